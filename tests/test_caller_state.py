"""check() leaves its caller as it found it: global RNGs, a pending timer,
signal handlers, warning filters, streams, file descriptor 1; and checks
from two threads give the results they give one after the other."""

import os
import random
import signal
import sys
import threading
import warnings

import numpy as np
import pytest

from gradcheck_cli import ModelError, check, load_model, sweep

from .conftest import SAMPLES, without_seconds

RUDE_MODEL = """
import signal, sys, warnings
import numpy as np

warnings.simplefilter("ignore")
signal.signal(signal.SIGTERM, signal.SIG_IGN)
sys.stdout = sys.stderr

def init_params(seed=0):
    np.random.seed(seed)  # the CS231n style
    return {"W": 0.01 * np.random.randn(3, 2)}

def loss(p):
    return float(np.sum(np.sin(p["W"])))

def grad(p):
    return {"W": np.cos(p["W"])}
"""


def _rng_states():
    return np.random.get_state()[1].copy(), random.getstate()


ENTRIES = {"check": check, "load_model": load_model, "sweep": sweep}


@pytest.mark.parametrize("entry", list(ENTRIES))
def test_global_rngs_are_restored(model_file, entry):
    path = model_file(RUDE_MODEL)
    np.random.seed(1234)
    random.seed(1234)
    numpy_before, python_before = _rng_states()
    ENTRIES[entry](path)
    numpy_after, python_after = _rng_states()
    assert np.array_equal(numpy_before, numpy_after) and python_before == python_after


@pytest.mark.parametrize("entry", list(ENTRIES))
def test_numpys_floating_point_error_handling_is_restored(model_file, entry):
    """A model that silences numpy (np.seterr(all="ignore"), as notebooks
    do) silences it for its own check only: the caller's overflow still
    warns afterwards, and so does the next model's."""
    path = model_file(RUDE_MODEL.replace("import numpy as np\n", 'import numpy as np\nnp.seterr(all="ignore")\n'))
    before = np.geterr()
    ENTRIES[entry](path)
    assert np.geterr() == before


@pytest.mark.parametrize("ends", ["returns", "raises"])
def test_signal_handlers_warning_filters_and_streams_are_restored(model_file, ends):
    source = RUDE_MODEL if ends == "returns" else RUDE_MODEL.replace(
        'return float(np.sum(np.sin(p["W"])))', 'raise ValueError("broken")')
    path = model_file(source)
    handler = signal.getsignal(signal.SIGTERM)
    filters = list(warnings.filters)
    stdout, stderr = sys.stdout, sys.stderr
    descriptor = os.fstat(1)
    np.random.seed(1234)
    numpy_before = np.random.get_state()[1].copy()
    if ends == "returns":
        assert check(path).verdict == "pass"
    else:
        with pytest.raises(ModelError, match="broken"):
            check(path)
    assert np.array_equal(np.random.get_state()[1], numpy_before)
    assert signal.getsignal(signal.SIGTERM) is handler
    assert list(warnings.filters) == filters
    assert sys.stdout is stdout and sys.stderr is stderr
    after = os.fstat(1)
    assert (after.st_dev, after.st_ino) == (descriptor.st_dev, descriptor.st_ino)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs interval timers")
def test_a_pending_interval_timer_of_the_caller_survives_a_timeout(model_file):
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append(True))
    try:
        signal.setitimer(signal.ITIMER_REAL, 50.0)
        check(model_file(RUDE_MODEL), timeout=30)
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 40 < remaining <= 50
        assert not fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _comparable(report):
    return without_seconds(report.to_dict())


def test_two_threads_get_the_sequential_results():
    # The ReLU net shows kink crossings that are not there when another
    # thread's evaluations land in its kink trace.
    targets = [str(SAMPLES / "two_layer_net.py")] * 3 + [str(SAMPLES / "svm_at_kink.py")]
    sequential = [_comparable(check(t)) for t in targets]
    descriptor = os.fstat(1)
    results: dict[int, dict] = {}

    def run(i):
        results[i] = _comparable(check(targets[i]))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(targets))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [results[i] for i in range(len(targets))] == sequential
    after = os.fstat(1)
    assert (after.st_dev, after.st_ino) == (descriptor.st_dev, descriptor.st_ino)


BLAS_COUNTING_MODEL = """
import json, os
import numpy as np
from threadpoolctl import threadpool_info

params = {"w": np.linspace(-1, 1, 12)}

def loss(p):
    if os.getpid() == int(os.environ["GRADCHECK_TEST_PARENT"]):  # (the workers' count: tests/test_parallel.py)
        with open(os.environ["GRADCHECK_TEST_THREADS"], "a") as seen:
            seen.write(json.dumps([pool["num_threads"] for pool in threadpool_info()
                                   if pool["user_api"] == "blas"]) + "\\n")
    return float(np.sum(p["w"] ** 3))

def grad(p):
    return {"w": 3 * p["w"] ** 2}
"""


@pytest.mark.workers
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: the share of the cores is all of them")
def test_a_pooled_check_evaluates_on_the_workers_share_and_gives_the_callers_blas_threads_back(model_file, tmp_path,
                                                                                                monkeypatch):
    """While --jobs 2's workers run, gradcheck's own process evaluates the
    model on each worker's share of the cores too (its start point is
    subtracted from the workers' values), and the caller's BLAS has its
    own count again afterwards, whether the check passed or raised.
    (warmup off: the burn-in to a generic point runs between two pools.)"""
    import json

    from threadpoolctl import threadpool_info, threadpool_limits

    if not any(pool["user_api"] == "blas" for pool in threadpool_info()):
        pytest.skip("no BLAS that threadpoolctl can see")
    for name in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                 "MKL_DOMAIN_NUM_THREADS", "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    seen = tmp_path / "threads.jsonl"
    monkeypatch.setenv("GRADCHECK_TEST_PARENT", str(os.getpid()))
    monkeypatch.setenv("GRADCHECK_TEST_THREADS", str(seen))
    cores = os.cpu_count()
    share = max(1, cores // 2)

    def blas_threads():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    with threadpool_limits(limits=cores, user_api="blas"):  # the caller's own count: every core
        before = blas_threads()
        assert check(model_file(BLAS_COUNTING_MODEL), jobs=2, samples=None, warmup="off").verdict == "pass"
        after_pass = blas_threads()
        broken = model_file(BLAS_COUNTING_MODEL.replace("return {\"w\": 3 * p[\"w\"] ** 2}",
                                                        "raise ValueError(\"broken\")"), name="broken.py")
        with pytest.raises(ModelError):
            check(broken, jobs=2, samples=None, warmup="off")
        after_error = blas_threads()
    counts = [json.loads(line) for line in seen.read_text().splitlines()]
    assert counts and all(count == [share] * len(count) for count in counts), counts
    assert before == after_pass == after_error == [cores] * len(before)
