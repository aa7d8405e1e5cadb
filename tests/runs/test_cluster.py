"""The Dask client a run spreads its work over."""

from __future__ import annotations

import pytest

from cryopick.errors import CryopickError
from cryopick.runs.cluster import dask_client


def test_local_cluster_runs_tasks_and_closes() -> None:
    with dask_client("local", workers=1) as client:
        assert client.submit(sum, [1, 2, 3]).result() == 6
    assert client.status == "closed"


def test_unreachable_scheduler_is_one_clear_error() -> None:
    with pytest.raises(CryopickError, match="cannot reach the Dask scheduler 'tcp://127.0.0.1:1'"):
        with dask_client("tcp://127.0.0.1:1", timeout_s=2):
            pass
