"""``roar export --format prov`` of a real project (fixtures_export.py), read back with the PyPI ``prov``
package and validated against the PROV-JSON schema that package ships: every job an activity, every
recorded version an entity with its digests, used / wasGeneratedBy as the store says, wasInformedBy along
the edges, wasDerivedFrom within a job, hadMember for the composite, wasAssociatedWith the run's agent."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import prov
import pytest
from fixtures_export import ODD, RAW_STORED, Exported, make_exported
from fixtures_s3 import S3Server, s3_server  # noqa: F401  (the fixture)
from jsonschema import Draft4Validator
from prov.model import (
    ProvActivity,
    ProvAgent,
    ProvAssociation,
    ProvCommunication,
    ProvDerivation,
    ProvDocument,
    ProvEntity,
    ProvGeneration,
    ProvMembership,
    ProvUsage,
)
from roar_cli import b3sum

SAFE = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
PROV_SCHEMA = Path(prov.__file__).parent / "tests" / "schemas" / "prov-json.schema.json"


def local_part(text: str) -> str:
    """docs/prov.md: bytes outside A-Z a-z 0-9 . _ - as %XX of their UTF-8."""
    return "".join(chr(b) if b in SAFE else f"%{b:02X}" for b in text.encode())


def entity_id(ref: dict[str, Any], uid: str) -> str:
    hashes = ref["hashes"]
    for algorithm in ("blake3", "blake3_merkle", "sha256", "etag"):
        if algorithm in hashes:
            return f"artifact:{local_part(ref['path'])}.{local_part(algorithm + '-' + hashes[algorithm])}"
    if hashes:
        algorithm = sorted(hashes)[0]
        return f"artifact:{local_part(ref['path'])}.{local_part(algorithm + '-' + hashes[algorithm])}"
    return f"artifact:{local_part(ref['path'])}.seen-{uid}"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Exported:  # noqa: F811
    return make_exported(tmp_path_factory.mktemp("prov"), s3_server)


@pytest.fixture(scope="module")
def text(exported: Exported) -> str:
    return exported.export("--format", "prov", "--all")


@pytest.fixture(scope="module")
def document(text: str) -> ProvDocument:
    return ProvDocument.deserialize(io.StringIO(text), format="json")


def ids(document: ProvDocument, kind: type) -> set[str]:
    return {str(record.identifier) for record in document.get_records(kind)}


def relations(document: ProvDocument, kind: type) -> set[tuple[str, ...]]:
    """Each relation as the tuple of its formal attributes that are set, as strings."""
    found = set()
    for record in document.get_records(kind):
        found.add(tuple(str(value) for _, value in record.formal_attributes if value is not None))
    return found


def test_valid_against_the_prov_json_schema(text: str) -> None:
    assert PROV_SCHEMA.is_file(), f"{PROV_SCHEMA} is missing: the pinned prov package ships it"
    schema = json.loads(PROV_SCHEMA.read_text())
    Draft4Validator.check_schema(schema)
    checker = Draft4Validator.FORMAT_CHECKER
    assert "uri" in checker.checkers and "date-time" in checker.checkers
    errors = sorted(Draft4Validator(schema, format_checker=checker).iter_errors(json.loads(text)), key=str)
    assert not errors, "\n".join(e.message for e in errors[:20])


def test_reads_back_and_round_trips(document: ProvDocument, text: str, exported: Exported) -> None:
    assert exported.export("--format", "prov", "--all") == text
    again = ProvDocument.deserialize(io.StringIO(document.serialize(format="json")), format="json")
    assert again == document
    via_read = prov.read(io.StringIO(text), format="json")
    assert via_read == document


def test_jobs_are_activities_with_their_times(document: ProvDocument, exported: Exported) -> None:
    assert ids(document, ProvActivity) == {f"job:{j['uid']}" for j in exported.dag["jobs"]}
    failed = exported.job("fails")
    record = next(r for r in document.get_records(ProvActivity) if str(r.identifier) == f"job:{failed['uid']}")
    assert record.get_startTime() is not None and record.get_endTime() is not None
    assert record.get_startTime().timestamp() == pytest.approx(failed["started_at"], abs=1e-5)
    attributes = {str(k): v for k, v in record.attributes}
    assert attributes["roar:status"] == "failed"
    assert "export test failure" in attributes["roar:error"]


def test_entities_carry_their_digests_and_odd_names(document: ProvDocument, exported: Exported) -> None:
    entities = {str(r.identifier): {str(k): v for k, v in r.attributes} for r in document.get_records(ProvEntity)}
    for job in exported.dag["jobs"]:
        for ref in job["inputs"] + job["outputs"]:
            attributes = entities[entity_id(ref, job["uid"])]
            assert attributes["roar:path"] == ref["path"]
            for algorithm, digest in ref["hashes"].items():
                assert attributes[f"roar:{algorithm}"] == digest
    odd = {ref["path"]: ref for ref in exported.runs()[0]["outputs"]}
    odd_ref = odd[exported.path(ODD)]
    assert entities[entity_id(odd_ref, "")]["roar:blake3"] == b3sum(Path(exported.path(ODD)))
    raw_ref = odd[exported.path(RAW_STORED)]
    on_disk = Path(os.fsdecode(exported.path("odd dir").encode() + b"/latin\xe9.txt"))
    assert entities[entity_id(raw_ref, "")]["roar:blake3"] == b3sum(on_disk)


def test_used_and_generated_as_recorded(document: ProvDocument, exported: Exported) -> None:
    used = {(a, e) for a, e, *_ in relations(document, ProvUsage)}
    generated = {(e, a) for e, a, *_ in relations(document, ProvGeneration)}
    expected_used = {(f"job:{j['uid']}", entity_id(r, j["uid"])) for j in exported.dag["jobs"] for r in j["inputs"]}
    expected_generated = {(entity_id(r, j["uid"]), f"job:{j['uid']}")
                          for j in exported.dag["jobs"] for r in j["outputs"]}
    assert used == expected_used
    assert generated == expected_generated
    s3 = next(r for r in exported.job("upload")["outputs"] if r["kind"] == "s3")
    assert (f"job:{exported.job('download')['uid']}", entity_id(s3, "")) in used


def test_informed_along_the_edges(document: ProvDocument, exported: Exported) -> None:
    informed = relations(document, ProvCommunication)
    expected = {(f"job:{e['to']}", f"job:{e['from']}") for e in exported.dag["edges"] if e["from"] != e["to"]}
    assert informed == expected
    assert (f"job:{exported.job('read_parts')['uid']}", f"job:{exported.job('make_parts')['uid']}") in informed
    second = exported.runs()[1]
    assert (f"job:{second['uid']}", f"job:{exported.job('read_parts')['uid']}") in informed


def test_derived_within_a_job_and_members_of_the_composite(document: ProvDocument, exported: Exported) -> None:
    derived = {(g, u, a) for g, u, a, *_ in relations(document, ProvDerivation)}
    reader = exported.job("read_parts")
    summary = next(r for r in reader["outputs"] if r["path"] == exported.path("summary.txt"))
    for ref in reader["inputs"]:
        assert (entity_id(summary, ""), entity_id(ref, ""), f"job:{reader['uid']}") in derived
    folder = next(r for r in exported.job("make_parts")["outputs"] if r["kind"] == "composite")
    members = {m for c, m in relations(document, ProvMembership) if c == entity_id(folder, "")}
    parts = [r for r in exported.job("make_parts")["outputs"] if r["kind"] == "file"]
    assert members == {entity_id(p, "") for p in parts} and len(members) == 3


def test_every_activity_is_associated_with_the_runs_agent(document: ProvDocument, exported: Exported) -> None:
    agents = ids(document, ProvAgent)
    assert len(agents) == 1
    agent = next(iter(agents))
    assert agent.endswith("%40" + local_part(exported.hostname))
    associated = {a for a, g, *_ in relations(document, ProvAssociation) if g == agent}
    assert associated == ids(document, ProvActivity)
