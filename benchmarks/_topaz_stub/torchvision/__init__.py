"""A minimal stand-in for torchvision, only for running Topaz on a CPU-only torch.

Topaz imports torchvision solely for ``rotate``, ``hflip`` and ``vflip`` in
``torchvision.transforms.functional``, always on tensors; no CPU torchvision build is
available here, so :mod:`benchmarks.topaz_runner` puts this folder on ``PYTHONPATH``.
"""

from . import transforms  # noqa: F401

__version__ = "0.0.0+topaz-stub"
