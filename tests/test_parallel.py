"""--jobs and --dask: the same results as in process, only faster."""

import json
import os
import shutil
import time

import numpy as np
import pytest
from click.testing import CliRunner

from gradcheck_cli import ModelError, check
from gradcheck_cli.errors import CheckTimeout
from gradcheck_cli.cli import main

from .conftest import SAMPLES, without_seconds

pytestmark = pytest.mark.workers


def run(*args):
    return CliRunner().invoke(main, [*map(str, args)], prog_name="gradcheck")


def without_timings(text: str) -> str:
    return json.dumps(without_seconds(json.loads(text)), indent=2, sort_keys=True)


SPARSE_BUG = """
import numpy as np
x = np.random.default_rng(1).standard_normal(300)
params = {"E": np.random.default_rng(2).standard_normal(300), "b": np.ones(2)}
def loss(p): return float(np.sum(np.sin(p["E"]) * x) + np.sum(p["b"] ** 2))
def grad(p):
    g = np.cos(p["E"]) * x
    g[123] *= -1.0
    return {"E": g, "b": 2 * p["b"]}
"""


@pytest.mark.parametrize("name", ["svm_at_kink", "dropout", "two_layer_net", "buggy_sigmoid", "softmax"])
def test_jobs_2_gives_byte_identical_json(name):
    one = run(SAMPLES / f"{name}.py", "--format", "json", "--samples", "all")
    two = run(SAMPLES / f"{name}.py", "--format", "json", "--samples", "all", "--jobs", "2")
    assert one.exit_code == two.exit_code
    assert without_timings(one.stdout) == without_timings(two.stdout)


def test_jobs_2_gives_the_same_data_loss_and_generic_point_checks(model_file):
    """The data loss alone (REG = 0) is set in the workers' import by --set;
    the generic point reaches them as the recipe's parameters."""
    for args in (["--set", "REG=50"], ["--warmup", "5"]):
        one = run(SAMPLES / "softmax.py", "--format", "json", *args)
        two = run(SAMPLES / "softmax.py", "--format", "json", "--jobs", "2", *args)
        assert one.exit_code == two.exit_code == 0
        assert without_timings(one.stdout) == without_timings(two.stdout)
    data = json.loads(two.stdout)["models"][0]
    assert data["generic_point"]["check"] is not None
    reg = json.loads(run(SAMPLES / "softmax.py", "--format", "json", "--jobs", "2", "--set", "REG=50").stdout)
    assert reg["models"][0]["regularization"]["data_only"]["verdict"] == "pass"


def test_identical_with_drill_down_five_point_and_warnings(model_file):
    path = model_file(SPARSE_BUG)
    for extra in ([], ["--method", "five-point"], ["--h", "auto"]):
        one = run(path, "--format", "json", "--samples", "5", *extra)
        two = run(path, "--format", "json", "--samples", "5", "--jobs", "2", *extra)
        assert without_timings(one.stdout) == without_timings(two.stdout)
        assert any(d["drilled"] for b in json.loads(two.stdout)["models"][0]["blocks"] for d in b["dims"])


def test_jobs_auto_keeps_a_short_check_in_process_and_says_so():
    report = check(str(SAMPLES / "softmax.py"), jobs="auto")
    assert report.verdict == "pass"
    (note,) = [n for n in report.notes if n.startswith("--jobs auto")]
    assert note.startswith("--jobs auto: in process")
    one = check(str(SAMPLES / "softmax.py"))
    assert [d.numeric for b in report.blocks for d in b.dims] == [d.numeric for b in one.blocks for d in b.dims]


SLOW = """
import time
import numpy as np
params = {"w": np.linspace(-1, 1, 120)}
def loss(p):
    time.sleep(0.01)  # a loss that waits (I/O, a slow library): one core, little CPU
    return float(np.sum(np.sin(p["w"])))
def grad(p): return {"w": np.cos(p["w"])}
"""


@pytest.mark.skipif((__import__("os").cpu_count() or 1) < 2, reason="one core: auto never starts workers")
def test_jobs_auto_starts_workers_where_the_work_pays_for_them(tmp_path):
    path = tmp_path / "slow.py"
    path.write_text(SLOW)
    report = check(str(path), jobs="auto", samples=None)
    (note,) = [n for n in report.notes if n.startswith("--jobs auto")]
    assert "worker processes" in note and "in process" not in note
    assert report.verdict == "pass"


class _Timed:
    """An evaluator stand-in: only the loss timings Auto plans with."""

    def __init__(self, wall):
        self.loss_times = [wall] * 5


def _auto_choice(monkeypatch, cores, wall, probes, load=0.0):
    from gradcheck_cli.executors import Auto, InProcess

    monkeypatch.setattr("os.cpu_count", lambda: cores)
    auto = Auto(_Timed(wall), recipe=lambda: pytest.fail("no pool expected"), load_seconds=load,
                method="central", h=1e-5)
    chosen = auto._choose(probes)
    assert isinstance(chosen, InProcess)
    return auto.note


def test_jobs_auto_stays_in_process_for_little_work_or_one_core(monkeypatch):
    assert "would not pay" in _auto_choice(monkeypatch, cores=2, wall=0.001, probes=100)
    assert "would not pay" in _auto_choice(monkeypatch, cores=8, wall=0.01, probes=50, load=2.0)
    assert "one core" in _auto_choice(monkeypatch, cores=1, wall=1.0, probes=1000)


BLAS_PROBE = """
import os
import numpy as np
PARENT = int(os.environ["GRADCHECK_TEST_PARENT"])
params = {"w": np.linspace(-1, 1, 20)}
def loss(p):
    if os.getpid() != PARENT:
        expected = str(max(1, (os.cpu_count() or 1) // 2))
        threads = [os.environ.get(v) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")]
        if threads != [expected] * 3:
            raise RuntimeError(f"worker BLAS threads {threads}, expected {expected}")
    return float(np.sum(p["w"] ** 3))
def grad(p): return {"w": 3 * p["w"] ** 2}
"""


def test_workers_get_their_share_of_the_cores_for_blas(tmp_path, monkeypatch):
    import os

    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                 "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GRADCHECK_TEST_PARENT", str(os.getpid()))
    path = tmp_path / "blas_probe.py"
    path.write_text(BLAS_PROBE)
    assert check(str(path), jobs=2, samples=None).verdict == "pass"
    assert "OPENBLAS_NUM_THREADS" not in os.environ  # the caller's environment given back


# A correct model whose loss is a long dot product (OpenBLAS splits it
# between its threads) that cancels down to 1e-3 from terms of 1e3: its
# last digits, and so its value's 7th, depend on the BLAS's thread count.
CANCELLING_SUM = """
import numpy as np
rng = np.random.default_rng(0)
C = rng.standard_normal((16, 12500)) * 1e3
V = rng.standard_normal(16 * 12500)
params = {"w": np.linspace(0.5, 2.0, 16)}
def loss(p):
    return float((p["w"][:, None] * C).ravel() @ V) + (734101.6688794927 + 1e-3)
def grad(p):
    return {"w": (C * V.reshape(16, -1)).sum(axis=1)}
"""


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: every process has the one BLAS thread")
@pytest.mark.parametrize("jobs", [2, "auto"])
def test_a_loss_that_sums_otherwise_on_other_thread_counts_is_not_called_nondeterministic(tmp_path, monkeypatch,
                                                                                          jobs):
    """gradcheck's process evaluates the start point on the workers' share
    of the cores (under --jobs auto too, whose choice comes after it), so a
    worker's loss there is the parent's to the bit: a cancelling BLAS sum
    is no process-dependent model."""
    monkeypatch.setattr("gradcheck_cli.executors.AUTO_MIN_GAIN", 0.0)  # (auto: a pool whatever it costs)
    path = tmp_path / "cancelling.py"
    path.write_text(CANCELLING_SUM)
    report = check(str(path), jobs=jobs)
    assert report.verdict == "pass"
    assert jobs == 2 or any(note.startswith("--jobs auto: 2 worker") for note in report.notes), report.notes


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: every process has the one BLAS thread")
def test_a_thread_variable_set_after_numpy_loaded_is_every_processs_count(tmp_path, monkeypatch):
    """A thread variable in os.environ is not the count this process's BLAS
    runs with: it is read when the BLAS loads, and something may set it
    later (a Dask worker run in process sets OMP/MKL/OPENBLAS_NUM_THREADS=1).
    The spawned workers load their BLAS with it; so must the parent sum
    with it, or a correct model's start point differs between them."""
    from threadpoolctl import threadpool_info

    if not any(pool["user_api"] == "blas" for pool in threadpool_info()):
        pytest.skip("no BLAS that threadpoolctl can see")
    before = [pool["num_threads"] for pool in threadpool_info()]
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(name, "1")  # after numpy loaded its BLAS on every core
    path = tmp_path / "cancelling.py"
    path.write_text(CANCELLING_SUM)
    assert check(str(path), jobs=2).verdict == "pass"
    assert [pool["num_threads"] for pool in threadpool_info()] == before  # the caller's BLAS as it was


def module_level_loss(p):
    return float(np.sum(np.tanh(p["w"])))


def module_level_grad(p):
    return {"w": 1 - np.tanh(p["w"]) ** 2}


def test_functions_defined_at_module_level_can_go_to_workers():
    params = {"w": np.linspace(-1, 1, 30)}
    one = check(loss=module_level_loss, grad=module_level_grad, params=params).to_dict()
    two = check(loss=module_level_loss, grad=module_level_grad, params=params, jobs=2).to_dict()
    assert without_seconds(one) == without_seconds(two)


def test_lambdas_cannot_go_to_workers_and_the_message_says_so():
    with pytest.raises(ModelError, match="functions defined at a module's top level"):
        check(loss=lambda p: float(np.sum(p)), grad=lambda p: np.ones_like(p), params=np.ones(3), jobs=2)


def test_bad_jobs_value():
    result = run(SAMPLES / "cube.py", "--jobs", "0")
    assert result.exit_code == 2 and "must be at least 1" in result.stderr


def test_timeout_stops_workers_stuck_in_user_code(model_file):
    path = model_file("""
        import numpy as np
        params = {"w": np.ones(8)}
        def loss(p):
            if p["w"][3] != 1.0:
                while True:
                    pass
            return float(np.sum(p["w"] ** 2))
        def grad(p): return {"w": 2 * p["w"]}
    """)
    started = time.monotonic()
    result = run(path, "--jobs", "2", "--timeout", "3")
    assert result.exit_code == 2 and "timed out" in result.stderr
    assert time.monotonic() - started < 30


def test_dask_gives_the_same_report(dask_client, tmp_path):
    # A copy with a name of its own: Dask workers import uploaded files by module name.
    path = tmp_path / "svm_kink_for_dask.py"
    shutil.copy(SAMPLES / "svm_at_kink.py", path)
    one = without_seconds(check(str(path), samples=None).to_dict())
    dask = without_seconds(check(str(path), samples=None, dask=dask_client).to_dict())
    assert one == dask
    assert dask["kink_crossings"] == 6 and dask["blocks"][0]["dims"][0]["kink"]["file"] == str(path)


def test_dask_from_the_command_line(dask_client, tmp_path):
    path = tmp_path / "softmax_for_dask.py"
    shutil.copy(SAMPLES / "softmax.py", path)
    address = dask_client.scheduler.address
    one = run(path, "--format", "json")
    dask = run(path, "--format", "json", "--dask", address)
    assert dask.exit_code == 0, dask.output
    assert without_timings(one.stdout) == without_timings(dask.stdout)


def test_unreachable_dask_scheduler():
    pytest.importorskip("distributed")
    result = run(SAMPLES / "cube.py", "--dask", "tcp://127.0.0.1:1", "--timeout", "60")
    assert result.exit_code == 2 and "Dask scheduler" in result.stderr


def test_workers_are_stopped_when_the_start_point_fails():
    import multiprocessing

    from concurrent.futures.process import _process_worker

    def pool_workers():  # (not a Dask LocalCluster's workers, whose nannies may restart them meanwhile)
        return {p for p in multiprocessing.active_children() if getattr(p, "_target", None) is _process_worker}

    before = pool_workers()
    with pytest.raises(ModelError, match="max before exp"):
        check(str(SAMPLES / "buggy_softmax_overflow.py"), jobs=2)
    assert pool_workers() <= before


PROCESS_DEPENDENT = """
import os
import numpy as np
# Data drawn from the process id: every worker process checks another function.
X = np.random.default_rng(os.getpid()).standard_normal((6, 3))
params = {"W": np.ones(3)}
def loss(p): return float(np.sum(np.tanh(X @ p["W"])))
def grad(p): return {"W": X.T @ (1 - np.tanh(X @ p["W"]) ** 2)}
"""


def test_workers_refuse_a_model_that_depends_on_the_process(model_file):
    path = model_file(PROCESS_DEPENDENT)
    assert run(path).exit_code == 0  # in process, a correct gradient of its own data
    result = run(path, "--jobs", "2")
    assert result.exit_code == 2
    assert "in a worker process" in result.output and "depends on the process" in result.output


def test_dask_workers_refuse_a_model_that_depends_on_the_process(dask_client, tmp_path):
    path = tmp_path / "pid_model_for_dask.py"
    path.write_text(PROCESS_DEPENDENT)
    with pytest.raises(ModelError, match="depends on the process"):
        check(str(path), dask=dask_client)


EDITS_ANOTHER_BLOCK = """
import numpy as np
X = np.random.default_rng(0).standard_normal((5, 3))
def init_params(seed=0):
    r = np.random.default_rng(seed)
    return {"W": r.standard_normal((3, 2)), "b": r.standard_normal(2)}
def loss(p):
    out = float(np.sum((X @ p["W"] + p["b"]) ** 2))
    if p["W"][0, 0] != init_params()["W"][0, 0]:
        p["b"][1] += 1e-3  # in place, in a block other than the one perturbed
    return out
def grad(p):
    r = 2 * (X @ p["W"] + p["b"])
    return {"W": X.T @ r, "b": r.sum(0)}
"""


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_in_place_edit_of_another_block_is_caught_in_process_and_in_workers(model_file, jobs):
    result = run(model_file(EDITS_ANOTHER_BLOCK), "--jobs", jobs)
    assert result.exit_code == 2
    assert "modified params['b'] in place" in result.output


HANGS_ON_WORKERS = """
import sys, time
import numpy as np
params = {"w": np.ones(3), "v": np.ones(2)}
def loss(p):
    if p["v"][0] != 1.0:
        while True:
            time.sleep(0.1)
    return float(np.sum(p["w"] ** 2) + np.sum(p["v"] ** 2))
def grad(p): return {"w": 2 * p["w"], "v": 2 * p["v"]}
"""


def test_a_dask_run_after_a_timed_out_one_finishes(dask_client, tmp_path):
    hangs = tmp_path / "hangs_for_dask.py"
    hangs.write_text(HANGS_ON_WORKERS)
    with pytest.raises(CheckTimeout):
        check(str(hangs), dask=dask_client, timeout=3)
    # The stuck tasks held a worker each; the next run gets workers that are free.
    good = tmp_path / "cube_after_timeout.py"
    shutil.copy(SAMPLES / "cube.py", good)
    started = time.monotonic()
    report = check(str(good), dask=dask_client, timeout=60)
    assert report.verdict == "pass" and time.monotonic() - started < 60


def test_a_dask_worker_that_ends_its_process_is_named(dask_client, tmp_path):
    path = tmp_path / "exits_on_dask_workers.py"
    path.write_text("import os\n" + (SAMPLES / "cube.py").read_text().replace("def loss(", "def _loss(")
                    + f"\ndef loss(x):\n    if os.getpid() != {os.getpid()}:  # on a worker\n        os._exit(3)\n"
                    "    return _loss(x)\n")
    with pytest.raises(ModelError, match="a Dask worker died or stopped while evaluating the model"):
        check(str(path), dask=dask_client, timeout=120)


def test_a_model_whose_import_fails_on_dask_workers_is_named(dask_client, tmp_path):
    path = tmp_path / "fails_on_dask_workers.py"
    path.write_text(f"import os\nif os.getpid() != {os.getpid()}:  # on a worker\n"
                    "    raise ImportError('no torch on the workers')\n" + (SAMPLES / "cube.py").read_text())
    dask_client.wait_for_workers(2, timeout=60)  # (an earlier test may have restarted them)
    with pytest.raises(ModelError, match="no torch on the workers") as caught:
        check(str(path), dask=dask_client)
    message = str(caught.value)
    assert "fails_on_dask_workers" in message and "failed" in message
    assert "raise ImportError('no torch on the workers')" in message  # the user's line
    assert "distributed" not in message and "importlib" not in message


def test_a_script_without_a_main_guard_is_told_what_workers_need(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "calls_check.py"
    script.write_text(f"from gradcheck_cli import check\ncheck({str(SAMPLES / 'two_layer_net.py')!r}, jobs=2)\n")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "import calls_check.py, which must call check() only under `if __name__ == '__main__':`" in result.stderr
