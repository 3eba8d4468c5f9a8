"""Host side of host-submit: fetch a run's sealed batches from the cluster, or a job's status.

``roar`` runs this with the Python of the user's ``ray`` command (it has Ray, which knows the
cluster's authentication), after ``ray job submit`` returns or on ``roar fetch``::

    python -m roar_runtime.drain batches --address URL --run RUN_ID --out DIR [--timeout S]
    python -m roar_runtime.drain status --address URL --submission-id ID

Both talk only to the dashboard address the user submits to (``--address``, ``RAY_ADDRESS``,
default ``http://127.0.0.1:8265``), through Ray's own ``JobSubmissionClient`` (token auth,
``--headers``, ``--verify`` handled as ``ray job submit`` handles them). The batches are read
with the dashboard's log API: the in-cluster collector spills them under
``<Ray logs dir>/roar/<run id>/`` on its node (``roar_runtime/cluster.py``). They stay sealed:
only ``roar`` on the host, with the run's private key, can open them.

The last line on stdout is one JSON object: the result. Errors name what failed and exit 1.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import urllib.parse
from typing import Any

from roar_runtime import ray_compat

MANIFEST = "manifest.json"
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")


class DrainError(Exception):
    pass


def _client(args: argparse.Namespace) -> Any:
    from ray.job_submission import JobSubmissionClient

    headers = json.loads(args.headers) if args.headers else None
    verify: Any = True
    if args.verify is not None:
        verify = {"true": True, "false": False}.get(args.verify.lower(), args.verify)
    try:
        return JobSubmissionClient(args.address, headers=headers, verify=verify)
    except Exception as exc:
        raise DrainError(f"cannot reach the Ray dashboard at {args.address or 'the default address'}: {exc}") from exc


def _get_json(client: Any, endpoint: str) -> dict[str, Any]:
    response = ray_compat.dashboard_request(client, "GET", endpoint)
    if response.status_code != 200:
        raise DrainError(f"GET {endpoint} answered {response.status_code}: {response.text[:300]}")
    return response.json()


def _alive_nodes(client: Any) -> list[str]:
    body = _get_json(client, "/api/v0/nodes?limit=10000&detail=false")
    rows = ((body.get("data") or {}).get("result") or {}).get("result") or []
    return [row["node_id"] for row in rows if row.get("node_id") and row.get("state", "ALIVE") == "ALIVE"]


def _listing(client: Any, node_id: str, run_id: str) -> list[str]:
    query = urllib.parse.urlencode({"node_id": node_id, "glob": f"roar/{run_id}/*", "timeout": 30})
    try:
        body = _get_json(client, f"/api/v0/logs?{query}")
    except DrainError:
        return []
    groups = ((body.get("data") or {}).get("result")) or {}
    names: list[str] = []
    for files in groups.values():
        for name in files:
            names.append(name.rsplit("/", 1)[-1])
    return names


def _download(client: Any, node_id: str, run_id: str, name: str) -> bytes:
    query = urllib.parse.urlencode(
        {"node_id": node_id, "filename": f"roar/{run_id}/{name}", "lines": -1, "media_type": "file", "timeout": 60}
    )
    response = ray_compat.dashboard_request(client, "GET", f"/api/v0/logs/file?{query}")
    if response.status_code != 200:
        raise DrainError(
            f"downloading {name} from node {node_id} answered {response.status_code}: {response.text[:300]}"
        )
    return response.content


def _find_manifest(client: Any, run_id: str) -> tuple[str, list[str]] | None:
    for node_id in _alive_nodes(client):
        names = _listing(client, node_id, run_id)
        if MANIFEST in names:
            return node_id, names
    return None


def collector_name(run_id: str) -> str:
    """The collector actor's name (``roar_runtime/cluster.py``)."""
    return "roar-collector-" + run_id


def _collector_dead(client: Any, run_id: str) -> bool:
    """Whether Ray lists the run's collector actor as dead (SIGKILLed, or its node lost): its
    manifest will never come. False when it is alive, unknown, or the state API cannot say."""
    query = urllib.parse.urlencode({
        "filter_keys": "name", "filter_predicates": "=", "filter_values": collector_name(run_id),
        "detail": "false", "limit": 10, "timeout": 10})
    try:
        body = _get_json(client, f"/api/v0/actors?{query}")
    except Exception:
        return False
    rows = ((body.get("data") or {}).get("result") or {}).get("result") or []
    return bool(rows) and all(row.get("state") == "DEAD" for row in rows)


def _orphaned_spill(client: Any, run_id: str) -> tuple[str, list[str]] | None:
    """The node holding what a dead collector spilled, and those batch names."""
    for node_id in _alive_nodes(client):
        names = [n for n in _listing(client, node_id, run_id) if n.endswith(".rbat.b64")]
        if names:
            return node_id, names
    return None


def _producers(batches: list[str]) -> list[str]:
    """The nodes that shipped these batches (``node-<id>-<seq>.rbat``)."""
    nodes = set()
    for name in batches:
        if name.startswith("node-") and "-" in name[5:]:
            nodes.add(name[5:].rsplit("-", 1)[0])
    return sorted(nodes)


def drain(args: argparse.Namespace) -> dict[str, Any]:
    client = _client(args)
    deadline = time.monotonic() + args.timeout
    found = _find_manifest(client, args.run)
    collector_lost = False
    next_check = time.monotonic() + 1.0
    while found is None and time.monotonic() < deadline:
        time.sleep(0.3)
        found = _find_manifest(client, args.run)
        if found is None and time.monotonic() >= next_check:
            next_check = time.monotonic() + 1.0
            if _collector_dead(client, args.run):
                found = _find_manifest(client, args.run)  # it may have written it just before
                collector_lost = found is None
                break
    if found is None and collector_lost:
        # The collector died before its manifest: what it spilled is all there will be. Each
        # node's lineage after its last spilled batch is lost (its agent had no one to send to).
        spilled = _orphaned_spill(client, args.run)
        node_id, names = spilled if spilled else ("", [])
        batches = sorted(n[: -len(".b64")] for n in names)
        manifest = {"schema": "roar.drain/1", "run_id": args.run, "complete": False, "batches": batches,
                    "missing_nodes": _producers(batches), "collector_lost": True}
        return _fetch(client, args, node_id, manifest)
    if found is None:
        return {"ok": False, "reason": "no manifest", "detail": (
            f"the cluster has not delivered this run's lineage within {args.timeout:g} s "
            "(the job may still be running, or its roar agents died)")}
    node_id, names = found
    manifest = json.loads(_download(client, node_id, args.run, MANIFEST).decode())
    return _fetch(client, args, node_id, manifest)


def _fetch(client: Any, args: argparse.Namespace, node_id: str, manifest: dict[str, Any]) -> dict[str, Any]:
    os.makedirs(args.out, exist_ok=True)
    fetched: list[str] = []
    problems: list[str] = []
    for name in manifest.get("batches", []):
        target = os.path.join(args.out, name)
        if os.path.exists(target):
            fetched.append(name)
            continue
        try:
            text = _download(client, node_id, args.run, name + ".b64")
            data = base64.b64decode(text.strip(), validate=True)
        except Exception as exc:
            problems.append(f"{name}: {exc}")
            continue
        with open(target + ".tmp", "wb") as f:
            f.write(data)
        os.replace(target + ".tmp", target)
        fetched.append(name)
    with open(os.path.join(args.out, MANIFEST), "w") as f:
        json.dump(manifest, f)
    return {
        "ok": True,
        "node_id": node_id,
        "complete": bool(manifest.get("complete")) and not problems,
        "batches": fetched,
        "problems": problems,
        "missing_nodes": manifest.get("missing_nodes", []),
        "collector_lost": bool(manifest.get("collector_lost")),
        # A run streamed to the lineage server: what the agents sent there, and who fell back.
        "streamed": manifest.get("streamed", []),
        "stream_fallbacks": manifest.get("stream_fallbacks", {}),
    }


def status(args: argparse.Namespace) -> dict[str, Any]:
    client = _client(args)
    try:
        info = client.get_job_info(args.submission_id)
    except Exception as exc:
        raise DrainError(f"cannot get the status of job {args.submission_id}: {exc}") from exc
    state = str(getattr(info.status, "value", info.status))
    return {
        "ok": True,
        "status": state,
        "terminal": state in TERMINAL,
        "message": info.message,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "driver_exit_code": getattr(info, "driver_exit_code", None),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m roar_runtime.drain")
    sub = parser.add_subparsers(dest="what", required=True)
    for name in ("batches", "status"):
        p = sub.add_parser(name)
        p.add_argument("--address", default=None)
        p.add_argument("--headers", default=None)
        p.add_argument("--verify", default=None)
        p.add_argument("--wait-for-go", action="store_true", help="wait for a line on stdin before working")
        if name == "batches":
            p.add_argument("--run", required=True)
            p.add_argument("--out", required=True)
            p.add_argument("--timeout", type=float, default=60.0)
        else:
            p.add_argument("--submission-id", required=True)
    args = parser.parse_args(argv)
    if args.wait_for_go:
        # Started while the job runs: import Ray now, work once roar says the job has ended.
        try:
            import ray.job_submission  # noqa: F401
        except Exception:
            pass  # reported below, by the real attempt
        if not sys.stdin.readline().strip():
            sys.stdout.write(json.dumps({"ok": False, "reason": "cancelled", "detail": "not needed"}) + "\n")
            return 1
    try:
        result = drain(args) if args.what == "batches" else status(args)
    except DrainError as exc:
        result = {"ok": False, "reason": "error", "detail": str(exc)}
    except Exception as exc:  # a Ray we do not know: say what happened
        result = {"ok": False, "reason": "error", "detail": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(result) + "\n")
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
