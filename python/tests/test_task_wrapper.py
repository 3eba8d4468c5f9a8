"""roar's task wrapper is transparent for every kind of remote function (wrappers.py): one
scenario (ray_scenarios/wrapper_kinds.py) run untraced and under the real ``roar run`` must
print the same values, items and exceptions, and the lineage must hold one job per call with
the status the call ended with."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from typing import Any

import pytest
from fixtures_ray import SCENARIOS, loopback_env, python_exe
from roar_cli import new_project, roar_binary

pytestmark = pytest.mark.skipif(
    roar_binary() is None, reason="roar is not built: set ROAR_BIN_DIR or run scripts/build first"
)

MODULE = "wrapper_kinds"

# function (without the module) -> statuses of its jobs, one per call.
EXPECTED_JOBS: dict[str, list[str]] = {
    "plain": ["ok"],
    "value": ["ok"],
    "raises": ["failed"],
    "stream": ["ok"],
    "stream_raises": ["failed"],
    "dynamic": ["ok"],
    "Sync.add": ["ok"],
    "Sync.fail": ["failed"],
    "Threaded.bump": ["ok"] * 4,
    "Async.double": ["ok"],
    "Async.fail": ["failed"],
    "Async.agen": ["ok"],
    "Async.agen_raises": ["failed"],
}


def result_of(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, stdout
    return json.loads(lines[0][len("RESULT "):])  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    script = SCENARIOS / f"{MODULE}.py"
    env = dict(__import__("os").environ, **loopback_env())

    plain_dir = tmp_path_factory.mktemp("untraced")
    shutil.copy(script, plain_dir / script.name)
    untraced = subprocess.run([python_exe(), script.name], cwd=plain_dir, env=env,
                              capture_output=True, text=True, timeout=600)
    assert untraced.returncode == 0, untraced.stderr

    project = new_project(tmp_path_factory.mktemp("traced"), script)
    traced = project.run(python_exe(), script.name, check=False, env=loopback_env(), timeout=600)
    return {"untraced": untraced, "traced": traced, "dag": project.dag()}


def test_same_results_untraced_and_traced(runs: dict[str, Any]) -> None:
    traced = runs["traced"]
    assert traced.returncode == 0, traced.stderr
    expected = result_of(runs["untraced"].stdout)
    # Non-trivial: the untraced run itself got what each kind returns and raises.
    assert expected["value"] == {"value": {"list": [7, 14], "text": "v7", "x": 7}}
    assert expected["raises"]["error"]["type"] == "Boom"
    assert expected["raises"]["error"]["args"] == ["task raised 3"]
    assert expected["stream"]["items"] == [{"i": i} for i in range(4)]
    assert expected["stream_raises"]["items"] == [0, 1]
    assert expected["stream_raises"]["error"]["args"] == ["stream broke after 2"]
    assert expected["dynamic"] == [0, 10, 20]
    assert expected["async_gen"]["items"] == ["a0", "a1", "a2"]
    assert expected["async_gen_raises"]["items"] == [0, 1]
    assert expected["async_gen_raises"]["error"]["type"] == "Boom"
    assert expected["threaded"] == [{"value": 3 * i} for i in range(4)]
    assert expected["async_fail"]["error"]["is_user_type"] is True
    assert result_of(traced.stdout) == expected


def test_one_job_per_call_with_its_status(runs: dict[str, Any]) -> None:
    dag = runs["dag"]
    calls: dict[str, list[str]] = {}
    inits: Counter[str] = Counter()
    for job in dag["jobs"]:
        if not job.get("ray"):
            continue
        function = job["ray"]["function"]
        assert function.startswith(MODULE + "."), function
        name = function[len(MODULE) + 1:]
        if name.endswith(".__init__"):
            inits[name] += 1
            assert job["status"] == "ok", job
            continue
        calls.setdefault(name, []).append(job["status"])
    assert {k: sorted(v) for k, v in calls.items()} == {k: sorted(v) for k, v in EXPECTED_JOBS.items()}
    # One actor creation each (an actor class without __init__ still has a creation task).
    assert all(count == 1 for count in inits.values()), inits
    assert {"Sync.__init__", "Threaded.__init__"} <= set(inits), inits
    failed = [j for j in dag["jobs"] if j.get("ray") and j["status"] == "failed"]
    assert all(j.get("error") for j in failed), failed
