"""roar_runtime on its own (no roar binary): start-up, the runtime_env merge, and the task
events it writes into a spool when a real Ray runs a real program with ``ROAR_WRAP=1``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fixtures_ray import (
    PYTHON_DIR,
    SCENARIOS,
    Record,
    events,
    preload_library,
    python_exe,
    read_spool,
    run_python,
    runtime_env_vars,
    spool_dir,  # noqa: F401  (fixture)
)

sys.path.insert(0, str(PYTHON_DIR))

from roar_runtime import config, driver  # noqa: E402


def _python(code: str, env: dict[str, str], cwd: Path) -> str:
    result = subprocess.run(
        [python_exe(), "-c", code], env=env, cwd=str(cwd), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# ---------------------------------------------------------------------------------------------
# start-up


def test_plain_python_does_not_import_ray(spool_dir: Path, tmp_path: Path) -> None:
    out = _python(
        "import sys, json; print(json.dumps(['ray' in sys.modules, 'roar_runtime.boot' in sys.modules]))",
        runtime_env_vars(spool_dir),
        tmp_path,
    )
    assert json.loads(out) == [False, True]


def test_import_ray_patches_init_and_shutdown(spool_dir: Path, tmp_path: Path) -> None:
    code = (
        "import ray, ray._private.worker as w, json;"
        "print(json.dumps([getattr(ray.init, '__roar_wrapped__', False),"
        " getattr(ray.shutdown, '__roar_wrapped__', False),"
        " w.init is ray.init, getattr(w.connect, '__roar_wrapped__', False)]))"
    )
    assert json.loads(_python(code, runtime_env_vars(spool_dir), tmp_path)) == [True, True, True, True]


@pytest.mark.parametrize("override", [{"ROAR_RAY_ENABLED": "0"}, {"ROAR_RAY_ENABLED": "false"}, {"ROAR_WRAP": ""}])
def test_disabled_means_no_patches(spool_dir: Path, tmp_path: Path, override: dict[str, str]) -> None:
    code = (
        "import ray, ray._private.worker as w, json;"
        "print(json.dumps([getattr(ray.init, '__roar_wrapped__', False),"
        " getattr(w.connect, '__roar_wrapped__', False)]))"
    )
    env = runtime_env_vars(spool_dir, **override)
    assert json.loads(_python(code, env, tmp_path)) == [False, False]


def test_user_sitecustomize_still_runs(spool_dir: Path, tmp_path: Path) -> None:
    user_site = tmp_path / "usersite"
    user_site.mkdir()
    (user_site / "sitecustomize.py").write_text("import os\nos.environ['USER_SITECUSTOMIZE'] = 'ran'\n")
    env = runtime_env_vars(spool_dir)
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(user_site)])
    code = (
        "import os, sys, json; print(json.dumps([os.environ.get('USER_SITECUSTOMIZE'),"
        " sys.modules['sitecustomize'].__file__, 'roar_runtime.boot' in sys.modules]))"
    )
    ran, module_file, booted = json.loads(_python(code, env, tmp_path))
    assert ran == "ran"
    assert module_file == str(user_site / "sitecustomize.py")
    assert booted


# ---------------------------------------------------------------------------------------------
# runtime_env merge (pure function: no Ray start)


@pytest.fixture
def roar_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    launcher = tmp_path / "roar-worker"
    launcher.write_text("#!/bin/sh\nexec \"$ROAR_WORKER_PYTHON\" \"$@\"\n")
    launcher.chmod(0o755)
    for key in list(os.environ):
        if key.startswith("ROAR_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ROAR_WRAP", "1")
    monkeypatch.setenv("ROAR_SPOOL", str(tmp_path))
    monkeypatch.setenv("ROAR_RUN_ID", "r1")
    monkeypatch.setenv("ROAR_TAG", "")
    monkeypatch.setenv("ROAR_WORKER", str(launcher))
    monkeypatch.setenv("ROAR_PRELOAD", "/opt/roar/libroar_preload.so")
    monkeypatch.setenv("LD_PRELOAD", "/opt/roar/libroar_preload.so")
    monkeypatch.setenv("PYTHONPATH", "/opt/roar/roar-python:/user/lib")
    return launcher


def test_merge_into_empty_runtime_env(roar_environ: Path) -> None:
    env, keys = driver.merge_runtime_env(None)
    assert env["worker_process_setup_hook"] == config.SETUP_HOOK
    assert env["py_executable"] == str(roar_environ)
    assert set(keys) == {"worker_process_setup_hook", "py_executable", "env_vars"}
    vars_ = env["env_vars"]
    assert vars_["ROAR_SPOOL"] == os.environ["ROAR_SPOOL"] and vars_["ROAR_RUN_ID"] == "r1"
    assert vars_["ROAR_TAG"] == "ray-system"
    assert vars_["ROAR_WORKER_PYTHON"] == sys.executable
    assert vars_["PYTHONPATH"].split(":")[0] == config.python_dir()
    assert "/user/lib" in vars_["PYTHONPATH"].split(":")
    assert vars_["LD_PRELOAD"].split(":")[0] == "/opt/roar/libroar_preload.so"
    assert "working_dir" not in env and "pip" not in env


def test_merge_keeps_user_keys(roar_environ: Path) -> None:
    user = {
        "working_dir": "/somewhere",
        "py_executable": "/usr/bin/python3",
        "env_vars": {"A": "1", "PYTHONPATH": "/theirs", "LD_PRELOAD": "/their.so", "ROAR_RUN_ID": "mine"},
        "worker_process_setup_hook": "their.module.hook",
    }
    env, _ = driver.merge_runtime_env(dict(user))
    assert env["working_dir"] == "/somewhere"
    assert env["py_executable"] == "/usr/bin/python3"
    vars_ = env["env_vars"]
    assert vars_["A"] == "1"
    assert vars_["ROAR_RUN_ID"] == "r1"  # roar's ROAR_* win: they identify this run (docs/ray-submit.md)
    assert vars_["PYTHONPATH"].split(":") == [config.python_dir(), "/theirs"]
    assert vars_["LD_PRELOAD"].split(":") == ["/opt/roar/libroar_preload.so", "/their.so"]
    assert env["worker_process_setup_hook"] == config.SETUP_HOOK
    assert vars_[config.CHAINED_HOOK_ENV] == "their.module.hook"
    assert user["env_vars"] == {"A": "1", "PYTHONPATH": "/theirs", "LD_PRELOAD": "/their.so", "ROAR_RUN_ID": "mine"}


def test_merge_chains_a_callable_hook(roar_environ: Path) -> None:
    called: list[str] = []
    env, _ = driver.merge_runtime_env({"worker_process_setup_hook": lambda: called.append("user")})
    hook = env["worker_process_setup_hook"]
    assert callable(hook) and getattr(hook, "__roar_chained__", False)
    hook()  # roar's part cannot install outside a Ray worker: it must count that, not raise
    assert called == ["user"]
    again, _ = driver.merge_runtime_env(env)
    assert again["worker_process_setup_hook"] is hook


def test_merge_leaves_py_executable_to_package_managers_and_clients(roar_environ: Path) -> None:
    env, _ = driver.merge_runtime_env({"pip": ["requests"]})
    assert "py_executable" not in env
    env, _ = driver.merge_runtime_env(None, address="ray://10.0.0.1:10001")
    assert "py_executable" not in env


def test_merge_respects_a_job_submit_runtime_env(roar_environ: Path) -> None:
    reserved = {"worker_process_setup_hook": "x.y", "env_vars": {"ROAR_SPOOL": "/cluster/spool"}}
    env, keys = driver.merge_runtime_env(None, reserved=reserved)
    assert "worker_process_setup_hook" not in env
    assert "ROAR_SPOOL" not in env["env_vars"]
    assert "worker_process_setup_hook" not in keys


# ---------------------------------------------------------------------------------------------
# real Ray: the task events


def _by_task(records: list[Record]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for record in events(records):
        event = record.event
        if event["event"] in ("task_begin", "task_end"):
            assert record.tag == event["tag"], "the E record carries the task's tag"
            found.setdefault(event["task_id"], []).append(event)
    return found


def _run_matrix(tmp_path: Path, spool: Path, **env: str) -> dict[str, Any]:
    out = tmp_path / "matrix.json"
    run_python(SCENARIOS / "runtime_matrix.py", [str(out)], runtime_env_vars(spool, **env), tmp_path)
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def _check_matrix(result: dict[str, Any], records: list[Record], attribution: str, env_mode: str) -> None:
    tasks = _by_task(records)

    drivers = [r.event for r in events(records, "driver")]
    assert len(drivers) == 1 and drivers[0]["job_id"] and drivers[0]["node_id"]
    configs = [r.event for r in events(records, "config")]
    assert configs[0]["runtime_env"] == env_mode and configs[0]["actor_attribution"] == attribution
    job_id = drivers[0]["job_id"]

    def one_call(task_id: str, kind: str, function: str, status: str = "ok") -> dict[str, Any]:
        evs = tasks[task_id]
        begins = [e for e in evs if e["event"] == "task_begin"]
        ends = [e for e in evs if e["event"] == "task_end"]
        assert len(begins) == 1 and len(ends) == 1, evs
        begin, end = begins[0], ends[0]
        assert begin["kind"] == kind and begin["function"] == function
        assert begin["attempt"] == 0 and begin["job_id"] == job_id
        assert begin["node_id"] == drivers[0]["node_id"] and begin["worker_id"] and begin["pid"]
        assert end["status"] == status
        return begin

    # user's runtime_env and setup hook survive; the worker runs roar_runtime
    assert result["plain"]["value"] == {"x": 1, "user_var": "kept", "user_hook": "1", "roar_runtime": True}
    begin = one_call(result["plain"]["task_id"], "task", "runtime_matrix.plain")
    assert begin["tag"] == "ray:%s:0" % result["plain"]["task_id"] and begin["actor_id"] is None

    # nested: the parent records what it submitted
    nested = result["nested"]
    one_call(nested["task_id"], "task", "runtime_matrix.parent")
    submits = {r.event["task_id"]: r.event for r in events(records, "task_submit")}
    for child in nested["children"]:
        one_call(child, "task", "runtime_matrix.child")
        assert submits[child]["parent_task_id"] == nested["task_id"]
        assert submits[child]["parent_attempt"] == 0 and submits[child]["kind"] == "task"

    # failure
    assert result["boom"]["raised"]
    one_call(result["boom"]["task_id"], "task", "runtime_matrix.boom", status="failed")
    end = [e for e in tasks[result["boom"]["task_id"]] if e["event"] == "task_end"][0]
    assert end["error"] == "ValueError: scenario failure"

    # retries: one task id, two attempts, two tags
    flaky = tasks[result["flaky"]["task_id"]]
    attempts = sorted((e["attempt"], e["event"], e.get("status")) for e in flaky)
    assert attempts == [
        (0, "task_begin", None),
        (0, "task_end", "failed"),
        (1, "task_begin", None),
        (1, "task_end", "ok"),
    ]
    flaky_id = result["flaky"]["task_id"]
    assert {e["tag"] for e in flaky} == {"ray:%s:0" % flaky_id, "ray:%s:1" % flaky_id}

    # actors: __init__ and every call, on the actor's worker
    for name, cls, method in (
        ("async_actor", "AsyncActor", "work"),
        ("threaded_actor", "ThreadedActor", "work"),
        ("sync_actor", "SyncActor", "add"),
    ):
        actor_id = result[name]["actor_id"]
        creation = "f" * 16 + actor_id
        init = one_call(creation, "actor_init", f"runtime_matrix.{cls}.__init__")
        assert init["actor_id"] == actor_id
        for call in result[name]["calls"]:
            begin = one_call(call, "actor_call", f"runtime_matrix.{cls}.{method}")
            assert begin["actor_id"] == actor_id and begin["pid"] == init["pid"]
            expected = "ray-actor:" + actor_id if attribution == "per_actor" else "ray:%s:0" % call
            assert begin["tag"] == expected
    assert len(set(result["threaded_actor"]["threads"])) >= 2, "calls ran concurrently on pool threads"

    # an async actor's streaming generator method: one call, ended when exhausted
    assert result["async_gen"]["items"] == [0, 1, 2]
    gen_call = one_call(result["async_gen"]["task_id"], "actor_call", "runtime_matrix.AsyncActor.agen")
    assert gen_call["actor_id"] == result["async_actor"]["actor_id"]

    # a streaming generator task ends when its generator is exhausted
    assert result["stream"]["items"] == [0, 1, 2]
    one_call(result["stream"]["task_id"], "task", "runtime_matrix.stream")

    # every task_begin has its task_end
    for evs in tasks.values():
        assert sum(e["event"] == "task_begin" for e in evs) == sum(e["event"] == "task_end" for e in evs), evs


def test_task_events_inherit_mode_per_call(tmp_path: Path, spool_dir: Path) -> None:
    """A fresh local Ray started by the traced driver: workers inherit the environment and
    install roar when they connect; the user's runtime_env is passed through untouched."""
    result = _run_matrix(tmp_path, spool_dir)
    _check_matrix(result, read_spool(spool_dir), "per_call", "inherit")


def test_task_events_runtime_env_mode_per_actor(tmp_path: Path, spool_dir: Path) -> None:
    """The runtime_env path (as for a cluster the driver connects to): setup hook chained
    with the user's, env vars merged; actor calls tagged per actor."""
    result = _run_matrix(
        tmp_path, spool_dir, ROAR_RAY_RUNTIME_ENV="always", ROAR_RAY_ACTOR_ATTRIBUTION="per_actor"
    )
    _check_matrix(result, read_spool(spool_dir), "per_actor", "merge")


@pytest.mark.skipif(preload_library() is None, reason="libroar_preload.so not built (scripts/build)")
def test_task_events_through_the_preload_library_and_roar_worker(tmp_path: Path, spool_dir: Path) -> None:
    """runtime_env mode with the real preload library and roar-worker as py_executable: the
    events go through roar_emit, workers are exec'd through roar-worker."""
    preload = preload_library()
    assert preload is not None
    launcher = preload.parent / "roar-worker"
    extra = {"LD_PRELOAD": str(preload), "ROAR_PRELOAD": str(preload), "ROAR_RAY_RUNTIME_ENV": "always"}
    if launcher.is_file():
        extra["ROAR_WORKER"] = str(launcher)
    result = _run_matrix(tmp_path, spool_dir, **extra)
    records = read_spool(spool_dir)
    _check_matrix(result, records, "per_call", "merge")
    (config_event,) = [r.event for r in events(records, "config")]
    assert config_event["backend"] == "native"
    if launcher.is_file():
        assert "py_executable" in config_event["runtime_env_keys"]
        execs = [r for r in records if r.type == "X" and str(launcher) in " ".join(r.fields[2:])]
        assert execs, "workers were started through roar-worker"
        assert all(r.tag == "ray-system" for r in execs)


@pytest.mark.skipif(preload_library() is None, reason="libroar_preload.so not built (scripts/build)")
def test_tags_seen_by_task_code(tmp_path: Path, spool_dir: Path) -> None:
    """With the preload library: the tag inside a task, in a thread it starts, in a subprocess
    it runs, and on an async actor's event loop between calls (restored to ray-system)."""
    preload = str(preload_library())
    out = tmp_path / "tags.json"
    env = runtime_env_vars(spool_dir, LD_PRELOAD=preload, ROAR_PRELOAD=preload)
    run_python(SCENARIOS / "tag_probe.py", [str(out)], env, tmp_path)
    seen = json.loads(out.read_text())
    task_tag = "ray:%s:0" % seen["task_id"]
    assert seen["in_task"] == task_tag
    assert seen["in_thread"] == task_tag
    assert seen["in_subprocess"] == task_tag
    assert seen["driver_after_init"] == ""
    assert seen["async_call"] == "ray:%s:0" % seen["async_call_id"]
    assert seen["async_loop_between_calls"] == "ray-system"
    # no user runtime_env here: the task ran on a worker Ray prestarted before the job existed
    (driver_event,) = [r.event for r in events(read_spool(spool_dir), "driver")]
    begins = [r.event for r in events(read_spool(spool_dir), "task_begin")]
    assert begins and all(b["job_id"] == driver_event["job_id"] for b in begins)


def test_interpreter_trees_added_to_roar_ignore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROAR_IGNORE", "/proc:/usr")
    driver._ignore_interpreter_trees()
    ignored = os.environ["ROAR_IGNORE"].split(":")
    assert ignored[:2] == ["/proc", "/usr"]
    prefix = os.path.normpath(sys.prefix)
    assert any(prefix == p or prefix.startswith(p + "/") for p in ignored)
    monkeypatch.delenv("ROAR_IGNORE")
    driver._ignore_interpreter_trees()  # not under roar run: nothing to extend
    assert "ROAR_IGNORE" not in os.environ


def test_every_ray_private_roar_uses_is_in_this_ray(spool_dir: Path, tmp_path: Path) -> None:
    """roar_runtime/ray_compat.py lists the private Ray names roar relies on: the Ray the tests
    run against has each of them (a Ray upgrade that drops one fails here first)."""
    code = "import json; from roar_runtime import ray_compat; print(json.dumps(ray_compat.unavailable()))"
    assert json.loads(_python(code, runtime_env_vars(spool_dir), tmp_path)) == []


MISSING_EACH_PRIVATE = """
import importlib, json, sys, types
from roar_runtime import ray_compat, spool


def without(private):
    \"\"\"Make this Ray look like one that lacks the name; returns how to undo it.\"\"\"
    module = importlib.import_module(private.module)
    if not private.attribute:  # the whole module gone
        sys.modules[private.module] = None
        return lambda: sys.modules.__setitem__(private.module, module)
    parts = private.attribute.split(".")
    owner = module
    for part in parts[:-1]:
        owner = getattr(owner, part)
    if isinstance(owner, type):  # the class in the MRO that defines it
        owner = next(c for c in owner.__mro__ if parts[-1] in vars(c))
    saved = getattr(owner, parts[-1])
    try:
        delattr(owner, parts[-1])
        return lambda: setattr(owner, parts[-1], saved)
    except TypeError:  # an extension type (ray._raylet): a module whose class lacks the method
        stand_in = types.ModuleType(private.module)
        stand_in.__dict__.update(vars(module))
        setattr(stand_in, parts[0], type(parts[0], (), {}))
        sys.modules[private.module] = stand_in
        return lambda: sys.modules.__setitem__(private.module, module)


outcomes = {}
for private in ray_compat.PRIVATES:
    if not private.static:
        continue
    undo = without(private)
    try:
        ray_compat._resolve(private.module, private.attribute)
        outcomes[private.name] = "resolved"
    except ray_compat.RayPrivateUnavailable as missing:
        outcomes[private.name] = str(missing)
    finally:
        undo()
spool.flush()
print(json.dumps(outcomes))
"""


def test_each_missing_ray_private_is_reported_by_name(spool_dir: Path, tmp_path: Path) -> None:
    """Every private Ray name roar uses, removed in turn: ray_compat raises its own error naming it (the caller
    degrades) and writes one runtime_issue event naming it and what roar uses it for."""
    from roar_runtime import ray_compat

    outcomes = json.loads(_python(MISSING_EACH_PRIVATE, runtime_env_vars(spool_dir), tmp_path))
    static = [p for p in ray_compat.PRIVATES if p.static]
    assert outcomes == {p.name: p.name for p in static}
    issues = [r.event for r in events(read_spool(spool_dir), "runtime_issue")]
    assert [(e["kind"], e["name"], e["use"]) for e in issues] == [
        ("ray_private_unavailable", p.name, p.use) for p in static
    ]
    assert all(e["known_for"] == ray_compat.TESTED and e["ray_version"] for e in issues)
