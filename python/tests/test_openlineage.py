"""``roar export --format openlineage`` of a real project (fixtures_export.py): every event valid against
the official OpenLineage 2-0-2 JSON Schemas — the core RunEvent and each facet against the schema whose
``$id`` its ``_schemaURL`` names (roar's own facets against docs/schemas/) — and the lineage in the events
equal to the store's: which job read and wrote which dataset, with which version."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fixtures_export import BUCKET, ODD, RAW_STORED, Exported, load_schemas, make_exported
from fixtures_s3 import S3Server, s3_server  # noqa: F401  (the fixture)
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from roar_cli import b3sum, composite_digest

RUN_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Exported:  # noqa: F811
    return make_exported(tmp_path_factory.mktemp("openlineage"), s3_server)


@pytest.fixture(scope="module")
def events(exported: Exported) -> list[dict[str, Any]]:
    text = exported.export("--format", "openlineage", "--all")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture(scope="module")
def schemas() -> dict[str, dict[str, Any]]:
    loaded = {schema["$id"]: schema for schema in load_schemas()}
    assert RUN_EVENT.split("#")[0] in loaded
    return loaded


@pytest.fixture(scope="module")
def registry(schemas: dict[str, dict[str, Any]]) -> Registry:
    return Registry().with_resources((sid, DRAFT202012.create_resource(s)) for sid, s in schemas.items())


def validator(registry: Registry, ref: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": ref}, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


def facets_of(event: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(where, key, facet) for every facet of the event: run, job, and each dataset's three kinds."""
    for where, holder in (("run", event["run"]), ("job", event["job"])):
        for key, facet in holder.get("facets", {}).items():
            yield where, key, facet
    for dataset in event.get("inputs", []) + event.get("outputs", []):
        for kind in ("facets", "inputFacets", "outputFacets"):
            for key, facet in dataset.get(kind, {}).items():
                yield f"dataset {dataset['name']} {kind}", key, facet


def test_format_checks_are_live() -> None:
    checker = Draft202012Validator.FORMAT_CHECKER
    for name in ("date-time", "uri", "uuid"):
        assert name in checker.checkers, f"format {name} is not checked: pin its validator package"
    assert not checker.conforms("not a time", "date-time")
    assert not checker.conforms("no uri", "uri")


def test_every_event_and_every_facet_is_valid(events: list[dict[str, Any]], schemas: dict[str, dict[str, Any]],
                                               registry: Registry) -> None:
    core = validator(registry, RUN_EVENT)
    facet_validators: dict[str, Draft202012Validator] = {}
    seen: set[str] = set()
    for number, event in enumerate(events):
        errors = sorted(core.iter_errors(event), key=str)
        assert not errors, f"event {number}: " + "\n".join(e.message for e in errors)
        assert event["schemaURL"] == RUN_EVENT
        for where, key, facet in facets_of(event):
            url = facet["_schemaURL"]
            base = url.split("#")[0]
            assert base in schemas, f"event {number} {where} facet {key}: no schema with $id {base}"
            assert key in schemas[base].get("properties", {}), f"{key} is not the name {base} gives its facet"
            check = facet_validators.setdefault(url, validator(registry, url))
            errors = sorted(check.iter_errors(facet), key=str)
            assert not errors, f"event {number} {where} facet {key}: " + "\n".join(e.message for e in errors)
            seen.add(key)
    assert {"parent", "jobType", "processing_engine", "errorMessage", "version", "roar_hashes", "roar_job",
            "outputStatistics"} <= seen


def test_events_are_small(events: list[dict[str, Any]]) -> None:
    assert max(len(json.dumps(e)) for e in events) < 256 * 1024


def test_times_strictly_increase(events: list[dict[str, Any]]) -> None:
    times = [e["eventTime"] for e in events]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", t) for t in times)
    assert times == sorted(times) and len(set(times)) == len(times)


def test_one_start_and_one_terminal_per_job(exported: Exported, events: list[dict[str, Any]]) -> None:
    by_run: dict[str, list[str]] = defaultdict(list)
    uids: dict[str, str] = {}
    for event in events:
        by_run[event["run"]["runId"]].append(event["eventType"])
        uids[event["run"]["runId"]] = event["run"]["facets"]["roar_job"]["uid"]
    assert sorted(uids.values()) == sorted(j["uid"] for j in exported.dag["jobs"])
    for run_id, types in by_run.items():
        assert uuid.UUID(run_id).version == 7
        assert types[0] == "START" and len(types) == 2, (uids[run_id], types)
    status = {j["uid"]: j["status"] for j in exported.dag["jobs"]}
    terminal = {"ok": "COMPLETE", "failed": "FAIL", "killed": "ABORT", "partial": "ABORT"}
    for run_id, types in by_run.items():
        assert types[1] == terminal[status[uids[run_id]]]


def test_exporting_twice_is_identical(exported: Exported) -> None:
    once = exported.export("--format", "openlineage", "--all")
    assert exported.export("--format", "openlineage", "--all") == once
    assert exported.project.cli("dag", "--format", "openlineage").stdout == once


def test_step_selection_and_output_file(exported: Exported, tmp_path: Path) -> None:
    first, second = exported.runs()
    default = exported.export("--format", "openlineage")
    assert default == exported.export("--format", "openlineage", f"@{second['step']}")
    assert {json.loads(line)["run"]["facets"]["roar_job"]["uid"] for line in default.splitlines()} == {second["uid"]}
    whole_run = exported.export("--format", "openlineage", f"@{first['step']}")
    selected = {json.loads(line)["run"]["facets"]["roar_job"]["uid"] for line in whole_run.splitlines()}
    assert selected == {j["uid"] for j in exported.dag["jobs"]} - {second["uid"]}
    out = tmp_path / "events.ndjson"
    exported.project.cli("export", "--format", "openlineage", "-o", str(out))
    assert out.read_text() == default
    missing = exported.project.cli("export", "--format", "openlineage", "@99", check=False)
    assert missing.returncode != 0 and "no step @99" in missing.stderr


def terminal_event(events: list[dict[str, Any]], uid: str) -> dict[str, Any]:
    found = [e for e in events if e["run"]["facets"]["roar_job"]["uid"] == uid and e["eventType"] != "START"]
    assert len(found) == 1
    return found[0]


def datasets(event: dict[str, Any], side: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["namespace"], d["name"]): d for d in event[side]}


def version(dataset: dict[str, Any]) -> str:
    return str(dataset["facets"]["version"]["datasetVersion"])


def test_parent_facets_follow_the_task_tree(exported: Exported, events: list[dict[str, Any]]) -> None:
    run_ids = {e["run"]["facets"]["roar_job"]["uid"]: e["run"]["runId"] for e in events}
    driver = exported.runs()[0]
    parent, child = exported.job("parent"), exported.job("child")
    child_facet = terminal_event(events, child["uid"])["run"]["facets"]["parent"]
    assert child_facet["run"]["runId"] == run_ids[parent["uid"]]
    assert child_facet["job"]["name"].endswith(".parent")
    assert child_facet["root"]["run"]["runId"] == run_ids[driver["uid"]]
    assert child_facet["root"]["job"] == {"namespace": "roar://proj", "name": driver["command"]}
    parent_facet = terminal_event(events, parent["uid"])["run"]["facets"]["parent"]
    assert parent_facet["run"]["runId"] == run_ids[driver["uid"]] == parent_facet["root"]["run"]["runId"]
    assert "parent" not in terminal_event(events, driver["uid"])["run"]["facets"]
    job = terminal_event(events, child["uid"])["job"]
    assert job["facets"]["jobType"]["integration"] == "RAY" and job["facets"]["jobType"]["jobType"] == "TASK"


def test_failed_task_is_a_fail_with_its_error(exported: Exported, events: list[dict[str, Any]]) -> None:
    failed = exported.job("fails")
    event = terminal_event(events, failed["uid"])
    assert event["eventType"] == "FAIL"
    assert "export test failure" in event["run"]["facets"]["errorMessage"]["message"]
    assert event["run"]["facets"]["errorMessage"]["programmingLanguage"] == "PYTHON"
    outputs = datasets(event, "outputs")
    key = (f"file://{exported.hostname}", exported.path("failed-partial.txt"))
    assert version(outputs[key]) == "blake3:" + b3sum(Path(exported.path("failed-partial.txt")))


def test_local_files_and_odd_names(exported: Exported, events: list[dict[str, Any]]) -> None:
    namespace = f"file://{exported.hostname}"
    driver = terminal_event(events, exported.runs()[0]["uid"])
    outputs = datasets(driver, "outputs")
    odd = outputs[(namespace, exported.path(ODD))]
    assert version(odd) == "blake3:" + b3sum(Path(exported.path(ODD)))
    raw = outputs[(namespace, exported.path(RAW_STORED))]
    on_disk = Path(os.fsdecode(exported.path("odd dir").encode() + b"/latin\xe9.txt"))
    assert raw["facets"]["roar_hashes"]["hashes"]["blake3"] == b3sum(on_disk)
    reader = terminal_event(events, exported.job("read_parts")["uid"])
    assert version(datasets(reader, "inputs")[(namespace, exported.path(ODD))]) == version(odd)


def test_composite_is_one_dataset_of_its_parts(exported: Exported, events: list[dict[str, Any]]) -> None:
    namespace = f"file://{exported.hostname}"
    writer = terminal_event(events, exported.job("make_parts")["uid"])
    outputs = datasets(writer, "outputs")
    parts = [Path(exported.path(f"ds/part-{i}.csv")) for i in range(3)]
    for part in parts:
        assert version(outputs[(namespace, str(part))]) == "blake3:" + b3sum(part)
    folder = outputs[(namespace, exported.path("ds"))]
    hashes = folder["facets"]["roar_hashes"]
    components = [{"name": p.name, "algorithm": "blake3", "digest": b3sum(p)} for p in parts]
    assert version(folder) == "blake3_merkle:" + composite_digest(components)
    assert hashes["kind"] == "composite" and hashes["componentCount"] == 3
    assert [c["name"] for c in hashes["components"]] == ["part-0.csv", "part-1.csv", "part-2.csv"]
    assert folder["outputFacets"]["outputStatistics"]["fileCount"] == 3
    reader = terminal_event(events, exported.job("read_parts")["uid"])
    assert version(datasets(reader, "inputs")[(namespace, exported.path("ds"))]) == version(folder)


def test_s3_objects_named_by_bucket_and_key(exported: Exported, events: list[dict[str, Any]]) -> None:
    key = (f"s3://{BUCKET}", "in/odd key+1.txt")
    digest = "blake3:" + b3sum(Path(exported.path(ODD)))
    upload = datasets(terminal_event(events, exported.job("upload")["uid"]), "outputs")[key]
    download = datasets(terminal_event(events, exported.job("download")["uid"]), "inputs")[key]
    assert version(upload) == version(download) == digest
    recorded = next(r for r in exported.job("upload")["outputs"] if r["path"] == f"s3://{BUCKET}/in/odd key+1.txt")
    assert upload["facets"]["roar_hashes"]["hashes"] == recorded["hashes"]
    assert upload["facets"]["roar_hashes"]["kind"] == "s3"


def test_every_recorded_ref_is_a_dataset(exported: Exported, events: list[dict[str, Any]]) -> None:
    """The events say exactly what the store says: per job, the same inputs and outputs."""
    for job in exported.dag["jobs"]:
        event = terminal_event(events, job["uid"])
        for side in ("inputs", "outputs"):
            names = sorted(d["name"] for d in event[side] if "lifecycleStateChange" not in d.get("facets", {}))
            expected = sorted(r["path"].split("/", 3)[3] if r["path"].startswith("s3://") else r["path"]
                              for r in job[side])
            assert names == expected, (job["command"], side)


def test_the_validators_reject_broken_events(events: list[dict[str, Any]], registry: Registry) -> None:
    """The checks above mean something: a bad runId, a bad time, a facet missing a required field, and
    roar's facet with a wrong type are each rejected."""
    event = next(e for e in events if e["eventType"] == "FAIL")
    core = validator(registry, RUN_EVENT)
    for path, value in ((("run", "runId"), "not-a-uuid"), (("eventTime",), "yesterday"), (("producer",), "no uri")):
        broken = json.loads(json.dumps(event))
        holder = broken
        for key in path[:-1]:
            holder = holder[key]
        holder[path[-1]] = value
        assert list(core.iter_errors(broken)), path
    error = dict(event["run"]["facets"]["errorMessage"])
    del error["programmingLanguage"]
    assert list(validator(registry, error["_schemaURL"]).iter_errors(error))
    dataset = next(d for d in event["outputs"] if "roar_hashes" in d["facets"])
    hashes = dict(dataset["facets"]["roar_hashes"], size="big")
    assert list(validator(registry, hashes["_schemaURL"]).iter_errors(hashes))


def test_help_teaches(exported: Exported) -> None:
    text = exported.project.cli("export", "--help").stdout
    for needle in ("openlineage", "prov", "NDJSON", "@N", "--all", "newest `roar run`", "docs/openlineage.md",
                   "roar_hashes", "64 parts"):
        assert needle in text, needle
    dag_help = exported.project.cli("dag", "--help").stdout
    assert "openlineage" in dag_help and "prov" in dag_help
    both = exported.project.cli("export", "--format", "prov", "--all", "@1", check=False)
    assert both.returncode != 0 and "not both" in both.stderr
