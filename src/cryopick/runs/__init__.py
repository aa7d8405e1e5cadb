"""Running many micrographs: one micrograph's job, streaming batches over processes or Dask, the run folder and resume."""
