"""Tomograms: 3D MRC volumes in, particles picked in 3D out.

One module per stage, as for micrographs:

* :mod:`cryopick.tomo.volumes`: reading (memory-mapped) and writing 3D MRC, with the same
  one-line errors as micrographs;
* :mod:`cryopick.tomo.coords`: RELION 5 tomography STAR, Dynamo ``.tbl`` and CSV/TSV;
* :mod:`cryopick.tomo.simulate` and :mod:`cryopick.tomo.reconstruct`: simulated tilt
  series reconstructed by weighted back-projection, with the truth;
* :mod:`cryopick.tomo.scale`: the working scale set by the particle diameter, binned
  slab by slab from the memory map;
* :mod:`cryopick.tomo.log3d`, :mod:`cryopick.tomo.network`, :mod:`cryopick.tomo.train`
  and :mod:`cryopick.tomo.pick`: the reference-free 3D LoG baseline and the 3D fully
  convolutional picker (positive-unlabeled training, tiled inference, 3D peaks).

One coordinate convention: x, y, z are the column, row and section of the array as
``mrcfile`` reads it (``data[z, y, x]``), in voxels of the original tomogram.
"""
