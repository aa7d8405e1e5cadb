"""Stand-in for ``torchvision.transforms``: only :mod:`.functional` exists."""

from . import functional  # noqa: F401
