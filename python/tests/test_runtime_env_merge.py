"""The shared vectors of roar's runtime_env merge policy (``Tests/vectors/runtime-env/merge.json``),
run against ``roar_runtime.driver.merge_policy``; Swift runs the same file against
``RuntimeEnvironmentMerge`` (``Tests/RoarRaySubmitTests/RuntimeEnvironmentMergeTests.swift``)."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

from roar_runtime import driver  # noqa: E402

VECTORS = json.loads((ROOT / "Tests" / "vectors" / "runtime-env" / "merge.json").read_text())["cases"]


def test_vectors_are_there() -> None:
    assert len(VECTORS) >= 20


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_merge_policy_matches_the_vector(vector: dict[str, Any]) -> None:
    user = copy.deepcopy(vector["user"])
    roar = vector["roar"]
    call = lambda: driver.merge_policy(  # noqa: E731
        user, roar.get("env_vars", {}), py_module=roar.get("py_modules"), launcher=roar.get("py_executable")
    )
    if "refused" in vector:
        with pytest.raises(driver.RuntimeEnvRefused) as refusal:
            call()
        assert refusal.value.code == vector["refused"], refusal.value.message
        return
    result = call()
    expected = vector["expected"]
    assert result.runtime_env == expected["runtime_env"]
    assert result.overridden == expected["overridden"]
    assert [code for code, _ in result.notes] == expected["notes"]
    assert user == vector["user"], "the user's runtime_env must not be modified"
