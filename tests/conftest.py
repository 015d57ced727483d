import logging
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_models"


@pytest.fixture
def model_file(tmp_path):
    """Write a model file from source text; returns its path as a string."""

    def write(source: str, name: str = "model.py") -> str:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source))
        return str(path)

    return write


pytest_plugins = ["pytester"]


@pytest.fixture(scope="module")
def dask_client():
    """A LocalCluster of two one-thread worker processes, and its client."""
    distributed = pytest.importorskip("distributed")
    # (silence_logs: a test provokes a worker's failure on purpose; its traceback in the run's output would read
    # as a failure to a newcomer, and gradcheck's own message is what the test checks)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=logging.CRITICAL)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def without_seconds(document):
    """A JSON report without its timings (nested checks' too): what two runs must share."""
    if isinstance(document, dict):
        return {k: without_seconds(v) for k, v in document.items() if k != "seconds"}
    if isinstance(document, list):
        return [without_seconds(v) for v in document]
    return document
