"""Each check's code is its own on a shared Dask cluster, and --jobs N gives
the report of --jobs 1 wherever every process runs the BLAS alike
(issue 24, sections 1 and 5)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from gradcheck_cli import ModelError, check
from gradcheck_cli.errors import CheckTimeout

from .conftest import SAMPLES, without_seconds

pytestmark = pytest.mark.workers


def ready(client):
    client.wait_for_workers(2, timeout=60)  # (a test that timed out restarts the workers it held)
    return client


def console(path, *args, env=None, cwd=None):
    """The console script (as `python -m gradcheck_cli`), started, not waited for."""
    return subprocess.Popen([sys.executable, "-m", "gradcheck_cli", str(path), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)


def finished(process, timeout=240):
    """The exit code, stdout and stderr."""
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


# Both files are model.py, of one loss up to a term that is 0 at the start
# point; b forgot that term's gradient. Each waits at import, in gradcheck's
# process (not on a worker), until both checks have started, so both
# reach the cluster together.
CONCURRENT = """
import os
import time
import numpy as np

_barrier = os.environ.get("GRADCHECK_TEST_BARRIER")
if _barrier:
    open(os.path.join(_barrier, {name!r}), "w").close()
    _until = time.monotonic() + 60
    while len(os.listdir(_barrier)) < 2 and time.monotonic() < _until:
        time.sleep(0.05)

X = np.linspace(-1.0, 1.0, 12)
W0 = np.linspace(0.5, 1.5, 12)
params = {{"w": W0.copy()}}

def loss(p):
    return float(np.sum(np.sin(p["w"]) * X){extra})

def grad(p):
    return {{"w": np.cos(p["w"]) * X}}
"""


def test_two_checks_at_once_on_one_cluster_each_get_the_verdict_they_get_alone(dask_client, tmp_path):
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    right = tmp_path / "a" / "model.py"
    right.write_text(CONCURRENT.format(name="a", extra=""))
    wrong = tmp_path / "b" / "model.py"
    wrong.write_text(CONCURRENT.format(name="b", extra=' + np.sum(p["w"] - W0)'))
    assert finished(console(right, cwd=tmp_path))[0] == 0  # alone, in process
    assert finished(console(wrong, cwd=tmp_path))[0] == 1

    address = ready(dask_client).scheduler.address
    env = {**os.environ, "GRADCHECK_TEST_BARRIER": str(barrier)}
    a = console(right, "--dask", address, env=env, cwd=tmp_path)
    b = console(wrong, "--dask", address, env=env, cwd=tmp_path)
    (code_a, *output_a), (code_b, *output_b) = finished(a), finished(b)
    assert code_a == 0, output_a
    assert code_b == 1, output_b


@pytest.mark.parametrize("name", ["model.v2.py", "my-model.py", "my model.py", "mödel_ü.py", "json.py", "numpy.py"])
def test_any_file_name_works_on_dask_workers_as_in_process(dask_client, tmp_path, name):
    path = tmp_path / name
    shutil.copy(SAMPLES / "svm_at_kink.py", path)
    one = without_seconds(check(str(path), samples=None).to_dict())
    dask = without_seconds(check(str(path), samples=None, dask=ready(dask_client)).to_dict())
    assert one == dask
    assert dask["kink_crossings"] > 0 and dask["blocks"][0]["dims"][0]["kink"]["file"] == str(path)


# A model of its own directory's modules: one imported with the model, a
# package, one imported only when the loss first runs. Each directory's
# helpers are its own: another model's same-named helpers must not be used.
SIBLING_MODEL = """
import numpy as np
from helpers import SCALE
from shapes.inner import X

params = {"w": np.linspace(-1.0, 1.0, 6)}

def loss(p):
    import later
    return float(np.sum(later.f(p["w"] * SCALE) * X))

def grad(p):
    return {"w": np.cos(p["w"] * SCALE) * 2.0 * X}
"""


def write_sibling_model(directory, scale):
    (directory / "shapes").mkdir(parents=True)
    (directory / "model.py").write_text(SIBLING_MODEL)
    (directory / "helpers.py").write_text(f"SCALE = {scale}\n")
    (directory / "shapes" / "__init__.py").write_text("")
    (directory / "shapes" / "inner.py").write_text("import numpy as np\nX = np.arange(1.0, 7.0)\n")
    (directory / "later.py").write_text("import numpy as np\nf = np.sin\n")
    return directory / "model.py"


def test_the_model_s_own_modules_go_with_it_and_stay_its_own(dask_client, tmp_path):
    right = write_sibling_model(tmp_path / "right", "2.0")  # grad's 2.0 is SCALE
    wrong = write_sibling_model(tmp_path / "wrong", "3.0")
    assert check(str(right)).verdict == "pass" and check(str(wrong)).verdict == "fail"  # in process
    client = ready(dask_client)
    assert check(str(right), dask=client).verdict == "pass"
    assert check(str(wrong), dask=client).verdict == "fail"
    assert check(str(right), dask=client).verdict == "pass"


def test_a_file_checked_again_with_new_contents_is_imported_afresh(dask_client, tmp_path):
    path = tmp_path / "model.py"
    source = (SAMPLES / "cube.py").read_text()
    path.write_text(source)
    client = ready(dask_client)
    assert check(str(path), dask=client).verdict == "pass"
    # The same length, so that only the contents differ, and a later time
    # stamp, so that this process's own bytecode cache notices.
    edited = source.replace("3 * t", "4 * t")
    assert edited != source and len(edited) == len(source)
    path.write_text(edited)
    stamp = os.stat(path).st_mtime + 10
    os.utime(path, (stamp, stamp))
    assert check(str(path)).verdict == "fail"
    assert check(str(path), dask=client).verdict == "fail"


# On a worker, the model notes its module's name and directory, and its
# sibling's name and file, in a log: what must be gone after the check.
RECORDS = """
import os
import numpy as np
try:
    import sibling_for_leftovers as _sibling
    _noted = [_sibling.__name__, _sibling.__file__]
except ImportError:  # (said by the test, after what it leaves behind)
    _noted = ["-", "-"]

if os.getpid() != {parent}:
    with open({log!r}, "a") as _log:
        _log.write("\\t".join([__name__, os.path.dirname(os.path.abspath(__file__)), *_noted]) + "\\n")

params = {{"w": np.ones(4), "v": np.ones(3)}}

def loss(p):
    if os.getpid() != {parent} and {misbehave}:
        {action}
    return float(np.sum(p["w"] ** 3) + np.sum(p["v"] ** 2))

def grad(p):
    return {{"w": 3 * p["w"] ** 2, "v": 2 * p["v"]}}
"""


def leftovers(client, names, places):
    """Per worker: its modules named ``names`` or imported from ``places``,
    and those of ``places`` that still exist."""
    def look(names, places):
        import os
        import sys

        found = [name for name, module in list(sys.modules.items())
                 if name in names or any(str(getattr(module, "__file__", None) or "").startswith(place)
                                         for place in places)]
        return found, [place for place in places if os.path.exists(place)]

    return client.run(look, names, places)


@pytest.mark.parametrize("ending", ["passes", "raises", "times out"])
def test_nothing_of_a_check_is_left_on_the_workers(dask_client, tmp_path, ending):
    log = tmp_path / "worker_log.txt"
    misbehave, action = {
        "passes": ("False", "pass"),
        "raises": ("True", "raise RuntimeError('only on workers')"),
        "times out": ('p["v"][0] != 1.0', "import time; time.sleep(600)"),
    }[ending]
    path = tmp_path / "records.py"
    path.write_text(RECORDS.format(parent=os.getpid(), log=str(log), misbehave=misbehave, action=action))
    (tmp_path / "sibling_for_leftovers.py").write_text("VALUE = 1\n")
    client = ready(dask_client)
    if ending == "passes":
        assert check(str(path), dask=client).verdict == "pass"
    elif ending == "raises":
        with pytest.raises(ModelError, match="only on workers"):
            check(str(path), dask=client)
    else:
        with pytest.raises(CheckTimeout):
            check(str(path), dask=client, timeout=5)
    records = [line.split("\t") for line in log.read_text().splitlines()]
    assert records  # the model ran on the workers
    names = {name for name, _, _, _ in records} | {sibling for _, _, sibling, _ in records if sibling != "-"}
    places = {directory + os.sep for _, directory, _, _ in records}
    places |= {os.path.dirname(file) + os.sep for _, _, _, file in records if file != "-"}
    assert all(not place.startswith(str(tmp_path)) for place in places)  # the workers' own copies
    ready(client)
    for worker, (modules, directories) in leftovers(client, names, sorted(places)).items():
        assert modules == [] and directories == [], worker
    assert all(sibling == "sibling_for_leftovers" for _, _, sibling, _ in records)  # it went with the model


def test_a_worker_keeps_a_few_checks_models_and_forgets_an_ended_one(tmp_path):
    """The worker side without a cluster: models of interleaved checks are
    kept (a few, the oldest pushed out with their files); an ended check's
    go, and a batch of it that starts late imports nothing."""
    import dataclasses

    from gradcheck_cli import load_model
    from gradcheck_cli.executors import WORKER_MODELS_KEPT, _end_check, _model_for, recipe_for, shipped

    path = tmp_path / "model.py"
    path.write_text("from helpers import f\n" + (SAMPLES / "cube.py").read_text())
    (tmp_path / "helpers.py").write_text("f = 1\n")
    model = load_model(str(path))
    recipe = recipe_for(model, str(path), None, 0, None)
    files = shipped(recipe.source, model.imports)
    assert sorted(inside for inside, _, _ in files.files) == ["helpers.py", "model.py"]
    recipes = [dataclasses.replace(recipe, key=f"check {i}", shipped=files) for i in range(WORKER_MODELS_KEPT + 1)]
    directories = [_model_for(r).directory for r in recipes]
    assert len(set(directories)) == len(recipes)  # one of its own per check
    assert [os.path.exists(d) for d in directories] == [False] + [True] * WORKER_MODELS_KEPT
    assert _model_for(recipes[-1]).directory == directories[-1]  # kept, not imported again
    for r in recipes:
        _end_check(r.key)
    assert not any(os.path.exists(d) for d in directories)
    with pytest.raises(ModelError, match="ended"):
        _model_for(recipes[-1])
    assert "helpers" not in sys.modules
    assert not [name for name, module in list(sys.modules.items())
                if any(str(getattr(module, "__file__", None) or "").startswith(d) for d in directories)]


# A loss whose value depends on how the BLAS splits its sums between
# threads: a dot product of 200000 elements (OpenBLAS threads it).
BLAS_SUMS = """
import numpy as np

C = np.random.default_rng(0).standard_normal((16, 12500))
params = {"w": np.linspace(0.5, 2.0, 16)}

def loss(p):
    z = (p["w"][:, None] * C).ravel()
    return float(z @ z)

def grad(p):
    return {"w": 2 * p["w"] * np.einsum("ij,ij->i", C, C)}
"""

_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                     "MKL_DOMAIN_NUM_THREADS", "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: every process has the one BLAS thread")
@pytest.mark.parametrize("variable", ["OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"])
def test_jobs_2_gives_the_report_of_jobs_1_with_the_blas_thread_count_set(tmp_path, variable):
    """Set by the user to all the cores (not the workers' share), the count
    is every process's: the same sums, the same report."""
    path = tmp_path / "blas_sums.py"
    path.write_text(BLAS_SUMS)
    env = {name: value for name, value in os.environ.items() if name not in _THREAD_VARIABLES}
    env[variable] = str(os.cpu_count())
    reports = []
    for jobs in ("1", "2"):
        code, out, err = finished(console(path, "--format", "json", "--samples", "all", "--jobs", jobs,
                                          env=env, cwd=tmp_path))
        assert code == 0, err
        reports.append(without_seconds(json.loads(out)))
    assert reports[0] == reports[1]
