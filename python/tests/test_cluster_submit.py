"""Host-submit against a real two-node loopback Ray cluster (fixtures_cluster.ray_cluster).

(a) a plain ``ray job submit --runtime-env-json '{"working_dir": "."}' -- python script.py`` of a
    two-task script runs one task on each node;
(b) the same submit with the entrypoint rewritten the way roar rewrites it
    (``python -m roar_runtime.driver -- python script.py``, roar_runtime in ``py_modules``):
    same output, the driver patches are active in the job's driver, and a failing script
    fails the job (``ray job submit`` exits non-zero, the status names the script's code).

Also unit tests of ``python -m roar_runtime.driver`` itself (no cluster): exit codes, argv,
``-m``, a non-Python entrypoint, a raising script.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fixtures_cluster import RayCluster, non_loopback_listeners

REPO = Path(__file__).resolve().parents[2]
PYTHON_DIR = REPO / "python"
ROAR_RUNTIME = PYTHON_DIR / "roar_runtime"
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
PY = str(VENV_PYTHON) if VENV_PYTHON.exists() else sys.executable
SUBMIT_TIMEOUT = 120

SCRIPT = textwrap.dedent(
    '''
    import os
    import sys

    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy


    @ray.remote(num_cpus=1)
    def where(i):
        return i, ray.get_runtime_context().get_node_id(), os.getcwd()


    def main():
        ray.init()
        print("WRAPPED", bool(getattr(ray.init, "__roar_wrapped__", False)), flush=True)
        print("DRIVER_CWD", os.getcwd(), flush=True)
        nodes = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
        refs = [
            where.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote(i)
            for i, node in enumerate(nodes)
        ]
        for i, node, cwd in ray.get(refs):
            print(f"TASK {i} NODE {node}", flush=True)
            print(f"TASK_CWD {i} {cwd}", flush=True)
        print("ARGV", sys.argv[1:], flush=True)
        print("MAIN", __name__, os.path.basename(__file__), flush=True)
        code = int(sys.argv[sys.argv.index("--exit") + 1]) if "--exit" in sys.argv else 0
        if code:
            print("FAILING", code, flush=True)
        sys.exit(code)


    if __name__ == "__main__":
        main()
    '''
)


# ---------------------------------------------------------------------------------------------
# helpers


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "script.py").write_text(SCRIPT)
    return root


def submit(
    cluster: RayCluster, cwd: Path, runtime_env: dict[str, object], entrypoint: list[str]
) -> subprocess.CompletedProcess:
    cmd = [
        cluster.ray, "job", "submit",
        "--address", cluster.dashboard_url,
        "--runtime-env-json", json.dumps(runtime_env),
        "--log-style", "record", "--log-color", "false",
        "--", *entrypoint,
    ]
    return subprocess.run(cmd, cwd=str(cwd), env=cluster.env, capture_output=True, text=True, timeout=SUBMIT_TIMEOUT)


def script_output(result: subprocess.CompletedProcess) -> list[str]:
    """The script's own lines (the job's log, as tailed by ``ray job submit``). When the job
    fails, Ray prints the log twice (tailed, then in the status message): the first copy."""
    lines: list[str] = []
    keys = ("WRAPPED", "TASK ", "ARGV", "MAIN", "FAILING")
    for line in result.stdout.splitlines():
        if "Status message:" in line:
            break
        if line.startswith(keys):
            lines.append(line)
    return lines


def nodes_of(lines: list[str]) -> list[str]:
    return [m.group(1) for m in (re.match(r"TASK \d+ NODE (\w+)", line) for line in lines) if m]


def _explain(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout[-6000:]}\nstderr:\n{result.stderr[-4000:]}"


# ---------------------------------------------------------------------------------------------
# cluster tests


@pytest.fixture(scope="module")
def plain_run(ray_cluster: RayCluster, tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess:
    root = _project(tmp_path_factory.mktemp("plain"))
    return submit(ray_cluster, root, {"working_dir": "."}, ["python", "script.py", "a", "b c"])


def test_plain_submit_runs_tasks_on_both_nodes(plain_run: subprocess.CompletedProcess, ray_cluster: RayCluster) -> None:
    from fixtures_cluster import active_nodes

    assert plain_run.returncode == 0, _explain(plain_run)
    lines = script_output(plain_run)
    nodes = nodes_of(lines)
    assert len(nodes) == 2 and len(set(nodes)) == 2, lines
    assert set(nodes) == set(active_nodes(ray_cluster)), (nodes, active_nodes(ray_cluster))
    assert "WRAPPED False" in lines
    assert "ARGV ['a', 'b c']" in lines
    assert "MAIN __main__ script.py" in lines


def test_roar_driver_submit_same_output(
    plain_run: subprocess.CompletedProcess, ray_cluster: RayCluster, tmp_path: Path
) -> None:
    root = _project(tmp_path)
    env = {"working_dir": ".", "py_modules": [str(ROAR_RUNTIME)]}
    entrypoint = ["python", "-m", "roar_runtime.driver", "--", "python", "script.py", "a", "b c"]
    result = submit(ray_cluster, root, env, entrypoint)
    assert result.returncode == 0, _explain(result)
    ours = script_output(result)
    plain = script_output(plain_run)
    assert "WRAPPED True" in ours, ours  # ray.init patched in the job's driver
    assert [line for line in ours if not line.startswith("WRAPPED")] == [
        line for line in plain if not line.startswith("WRAPPED")
    ]
    assert "roar: warning" not in result.stdout + result.stderr


def test_roar_driver_submit_failing_script(ray_cluster: RayCluster, tmp_path: Path) -> None:
    root = _project(tmp_path)
    env = {"working_dir": ".", "py_modules": [str(ROAR_RUNTIME)]}
    plain = submit(ray_cluster, root, {"working_dir": "."}, ["python", "script.py", "--exit", "3"])
    entrypoint = ["python", "-m", "roar_runtime.driver", "--", "python", "script.py", "--exit", "3"]
    ours = submit(ray_cluster, root, env, entrypoint)
    for result in (plain, ours):
        # Ray's CLI exits 1 for any failed job; the script's own code is in the status message
        assert result.returncode != 0, _explain(result)
        assert "failed with exit code 3" in result.stdout + result.stderr, _explain(result)
        assert "FAILING 3" in script_output(result)
    assert "WRAPPED True" in script_output(ours) and "WRAPPED False" in script_output(plain)
    assert [line for line in script_output(ours) if not line.startswith("WRAPPED")] == [
        line for line in script_output(plain) if not line.startswith("WRAPPED")
    ]


def test_cluster_rejects_a_wrong_token(ray_cluster: RayCluster) -> None:
    env = dict(ray_cluster.env, RAY_AUTH_TOKEN="0" * 64)
    result = subprocess.run(
        [ray_cluster.ray, "job", "list", "--address", ray_cluster.dashboard_url],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert "Invalid authentication token" in result.stdout + result.stderr, _explain(result)


def test_cluster_listens_on_loopback_only_after_jobs(ray_cluster: RayCluster) -> None:
    assert non_loopback_listeners(ray_cluster.processes()) == []


# ---------------------------------------------------------------------------------------------
# python -m roar_runtime.driver, without a cluster


def _driver_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROAR_") and k != "LD_PRELOAD"}
    env["PYTHONPATH"] = str(PYTHON_DIR)
    env.update(extra)
    return env


def run_driver(args: list[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PY, "-m", "roar_runtime.driver", *args], cwd=str(cwd), env=_driver_env(**extra),
        capture_output=True, text=True, timeout=60,
    )


REPORT = textwrap.dedent(
    '''
    import json, os, sys
    print(json.dumps({
        "argv": sys.argv, "name": __name__, "file": __file__, "path0": sys.path[0],
        "hook": any(
            getattr(f, "name", None) == "ray" and type(f).__name__ == "_AfterImportHook" for f in sys.meta_path
        ),
        "wrap": os.environ.get("ROAR_WRAP"),
    }))
    sys.exit(int(os.environ.get("EXIT_WITH", "0")))
    '''
)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "report.py").write_text(REPORT)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "tool.py").write_text(REPORT)
    (tmp_path / "raises.py").write_text("def f():\n    raise ValueError('boom')\n\nf()\n")
    return tmp_path


def _report(result: subprocess.CompletedProcess) -> dict[str, object]:
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_driver_runs_script_in_process(work: Path) -> None:
    result = run_driver(["--", "python", "sub/report.py", "x", "--flag", "y z"], work, EXIT_WITH="7")
    assert result.returncode == 7, result.stderr
    report = _report(result)
    assert report["argv"] == ["sub/report.py", "x", "--flag", "y z"]
    assert report["name"] == "__main__"
    assert report["file"] == str(work / "sub" / "report.py")
    assert report["path0"] == str(work / "sub")
    assert report["hook"] is True  # ray.init/shutdown get patched when the script imports ray
    assert result.stderr == ""


def test_driver_interpreter_path_and_systemexit_message(work: Path) -> None:
    (work / "bye.py").write_text("raise SystemExit('bye')\n")
    result = run_driver(["--", PY, "bye.py"], work)
    assert result.returncode == 1
    assert result.stderr.strip() == "bye"


def test_driver_runs_module(work: Path) -> None:
    result = run_driver(["--", "python3", "-m", "pkg.tool", "--a", "1"], work, EXIT_WITH="4")
    assert result.returncode == 4, result.stderr
    report = _report(result)
    assert report["argv"] == [str(work / "pkg" / "tool.py"), "--a", "1"]
    assert report["name"] == "__main__"
    assert report["path0"] == str(work)
    assert report["hook"] is True


def test_driver_missing_module_and_script(work: Path) -> None:
    missing_module = run_driver(["--", "python", "-m", "no_such_mod"], work)
    assert missing_module.returncode == 1 and "No module named no_such_mod" in missing_module.stderr
    missing_script = run_driver(["--", "python", "nope.py"], work)
    assert missing_script.returncode == 2 and "can't open file" in missing_script.stderr


def test_driver_script_raising(work: Path) -> None:
    result = run_driver(["--", "python", "raises.py"], work)
    assert result.returncode == 1
    assert "ValueError: boom" in result.stderr
    assert 'raises.py", line 4' in result.stderr
    assert "runpy" not in result.stderr and "driver_main" not in result.stderr


def test_driver_non_python_entrypoint(work: Path) -> None:
    result = run_driver(["--", "sh", "-c", 'printf "%s|" "$0" "$@"; exit 5', "zero", "a b", "c"], work)
    assert result.returncode == 5
    assert result.stdout == "zero|a b|c|"
    # a Python started by the entrypoint gets roar's sitecustomize and ROAR_WRAP=1
    child = run_driver(["--", "sh", "-c", f'exec "{PY}" sub/report.py'], work)
    assert child.returncode == 0, child.stderr
    report = _report(child)
    assert report["wrap"] == "1" and report["hook"] is True


def test_driver_python_with_options_runs_as_child(work: Path) -> None:
    result = run_driver(["--", PY, "-u", "sub/report.py", "q"], work, EXIT_WITH="3")
    assert result.returncode == 3
    assert _report(result)["argv"] == ["sub/report.py", "q"]


def test_driver_child_killed_by_signal(work: Path) -> None:
    result = run_driver(["--", "sh", "-c", "kill -TERM $$"], work)
    assert result.returncode == 128 + signal.SIGTERM


def test_driver_missing_command_and_usage(work: Path) -> None:
    assert run_driver(["--", "no-such-command-xyz"], work).returncode == 127
    usage = run_driver([], work)
    assert usage.returncode == 2 and "usage" in usage.stderr


def test_driver_setup_error_does_not_stop_the_entrypoint(work: Path) -> None:
    # roar's boot module broken on purpose: the driver warns and runs the script anyway
    shadow = work / "shadow"
    (shadow / "roar_runtime").mkdir(parents=True)
    for source in ROAR_RUNTIME.glob("*.py"):
        (shadow / "roar_runtime" / source.name).write_text(source.read_text())
    (shadow / "roar_runtime" / "boot.py").write_text("raise RuntimeError('broken boot')\n")
    result = subprocess.run(
        [PY, "-m", "roar_runtime.driver", "--", "python", "sub/report.py"],
        cwd=str(work), env=dict(_driver_env(EXIT_WITH="6"), PYTHONPATH=str(shadow)),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 6, result.stderr
    assert "roar: warning" in result.stderr and "broken boot" in result.stderr
    assert _report(result)["argv"] == ["sub/report.py"]
