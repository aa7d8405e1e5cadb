"""A Dask client for a run: a LocalCluster of local processes, or a scheduler started apart.

Micrographs (:mod:`cryopick.runs.batch`) and tomograms (:mod:`cryopick.tomo.jobs`) are
spread over Dask the same way: ``dask="local"`` starts a LocalCluster of ``workers``
single-threaded processes (no dashboard, so no fixed port), any other value is a
scheduler's address (``tcp://host:8786``) whose workers read the inputs from a shared
file system.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from cryopick.errors import CryopickError

__all__ = ["dask_client"]


@contextlib.contextmanager
def dask_client(dask: str, workers: int = 1, timeout_s: float = 30.0) -> Iterator[Any]:
    """A ``distributed.Client`` for ``dask`` ("local" or a scheduler address), closed (with its cluster) afterwards."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - a dependency of cryopick
        raise CryopickError("Dask is not installed", fix="pip install 'dask[distributed]'") from exc
    cluster = None
    try:
        if dask == "local":
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
        else:
            client = Client(dask, timeout=f"{timeout_s}s")
    except OSError as exc:
        if cluster is not None:
            cluster.close()
        raise CryopickError(f"cannot reach the Dask scheduler {dask!r} ({exc})",
                            fix="check the address (tcp://host:8786) and that the scheduler runs") from exc
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
