"""After scoring: edge artefact bands, junk regions, the aggregate and contrast guards, clean-up by invariants, PCA and clustering, and the score summary."""
