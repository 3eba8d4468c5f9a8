"""A real two-node Ray cluster on loopback, for the host-submit tests (test_cluster_submit.py).

``ray_cluster`` (session scope) starts, with the venv's ``ray`` CLI:

- a head node: ``ray start --head --node-ip-address=127.0.0.1 --port=<free>
  --dashboard-host=127.0.0.1 --dashboard-port=<free> --num-cpus=2 --disable-usage-stats
  --temp-dir=<tmp>`` (every other port it would open is given a free one too, so that two
  nodes on one host, or another user's Ray, never collide on Ray's fixed defaults);
- a worker node: ``ray start --address=127.0.0.1:<port> --node-ip-address=127.0.0.1
  --num-cpus=1 …``.

Both run with ``RAY_AUTH_MODE=token`` and a fresh ``RAY_AUTH_TOKEN`` (never ``~/.ray/auth_token``),
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (otherwise this Ray binds its agents to the outward
address) and ``RAY_USAGE_STATS_ENABLED=0``. Each ``ray start`` is its own session
(``setsid``): the cluster's processes are that session's members, their descendants, and any
process whose command line names the temp dir. The fixture waits until ``ray status`` lists
two active nodes and the jobs API answers, then checks with ``ss`` that every TCP/UDP listener
of those processes is on 127.0.0.1 / ::1 (it fails otherwise). At the end it terminates those
processes (SIGTERM, then SIGKILL) — never ``ray stop``, which would stop every Ray of the user.

If the cluster cannot start here the tests using it are skipped with the reason (set
``ROAR_REQUIRE_CLUSTER=1`` to fail instead).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"

START_TIMEOUT = float(os.environ.get("ROAR_CLUSTER_START_TIMEOUT", "90"))
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


class ClusterUnavailable(RuntimeError):
    """The cluster could not be started on this machine."""


@dataclass
class RayCluster:
    dashboard_url: str  # http://127.0.0.1:<port>, for ``ray job submit --address``
    gcs_address: str  # 127.0.0.1:<port>
    temp_dir: Path
    env: dict[str, str]  # the environment to run ``ray`` commands against this cluster with
    ray: str  # the ``ray`` CLI
    python: str  # the interpreter that has ``ray``
    sessions: list[int] = field(default_factory=list)
    start_seconds: float = 0.0

    def __str__(self) -> str:
        return self.dashboard_url

    def processes(self) -> set[int]:
        return _cluster_pids(self.sessions, str(self.temp_dir))


# ---------------------------------------------------------------------------------------------
# helpers


def ray_cli() -> str | None:
    candidate = VENV_BIN / "ray"
    if candidate.is_file():
        return str(candidate)
    return shutil.which("ray")


def _python_for(ray: str) -> str:
    candidate = Path(ray).parent / "python"
    return str(candidate) if candidate.exists() else "python3"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _free_ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        port = free_port()
        if port not in ports and not (10002 <= port <= 19999):  # Ray's default worker port range
            ports.append(port)
    return ports


def cluster_env(token: str) -> dict[str, str]:
    env = dict(os.environ)
    for key in list(env):
        # a surrounding ``roar run`` or Ray must not leak into the cluster
        if key.startswith("ROAR_") or key in ("LD_PRELOAD", "RAY_ADDRESS", "RAY_API_SERVER_ADDRESS",
                                              "RAY_AUTH_TOKEN_PATH", "RAY_JOB_CONFIG_JSON_ENV_VAR"):
            del env[key]
    env.update(
        {
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": token,
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
            "RAY_USAGE_STATS_ENABLED": "0",
            "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    return env


# Ray 2.60's ``ray start`` refuses a non-head node when ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` is
# false ("Multi-node Ray clusters are not supported on Windows and OSX", ray/scripts/scripts.py),
# whatever the platform. With it true, Ray replaces 127.0.0.1 — in ``--node-ip-address`` and in
# ``--address`` alike (``services.resolve_ip_for_localhost``) — by the machine's outward
# address, so the node would dial the head there. The worker node is therefore started by
# Ray's own CLI entry with that one check lifted: ``ray.scripts.scripts`` sees a copy of
# ``ray_constants`` whose ``ENABLE_RAY_CLUSTER`` is true, while address resolution
# (``ray._private.services``) and every process of the node keep the variable's ``0``.
_WORKER_NODE_START = """
import sys, types
import ray.scripts.scripts as scripts
real = scripts.ray_constants
lifted = types.ModuleType(real.__name__)
lifted.__dict__.update(real.__dict__)
lifted.ENABLE_RAY_CLUSTER = True
scripts.ray_constants = lifted
sys.argv[0] = "ray"
sys.exit(scripts.main())
"""


def _proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # pid (comm) state ppid pgrp session ...; comm may hold spaces and parentheses
    rest = raw[raw.rindex(")") + 2:].split()
    return rest


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def _cluster_pids(sessions: list[int], temp_dir: str) -> set[int]:
    """Members of the ``ray start`` sessions, processes naming the temp dir, and all their
    descendants (a job's entrypoint runs in a session of its own)."""
    parents: dict[int, int] = {}
    found: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        stat = _proc_stat(pid)
        if stat is None:
            continue
        if stat[0] == "Z":
            continue
        parents[pid] = int(stat[1])
        if int(stat[3]) in sessions or temp_dir in _cmdline(pid):
            found.add(pid)
    found.discard(os.getpid())
    changed = True
    while changed:
        changed = False
        for pid, ppid in parents.items():
            if ppid in found and pid not in found and pid != os.getpid():
                found.add(pid)
                changed = True
    return found


def _kill(pids: set[int], grace: float = 8.0) -> None:
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 3.0)):
        alive = [p for p in pids if _alive(p)]
        if not alive:
            return
        for pid in alive:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(_alive(p) for p in alive):
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    stat = _proc_stat(pid)
    return stat is not None and stat[0] != "Z"


def _tail(path: Path, limit: int = 3000) -> str:
    chunks = []
    for log in sorted(path.glob("session_latest/logs/*")):
        if log.suffix in (".err", ".out", ".log") and log.is_file():
            try:
                text = log.read_text(errors="replace")
            except OSError:
                continue
            if "Error" in text or "error" in text:
                chunks.append(f"--- {log.name}\n{text[-600:]}")
    return "\n".join(chunks)[-limit:]


def _ray_start(command: list[str], args: list[str], env: dict[str, str], what: str, temp_dir: Path) -> int:
    """Run one ``ray start`` in a new session; returns the session id (its pid)."""
    proc = subprocess.Popen(
        [*command, "start", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise ClusterUnavailable(f"{what}: `ray start` did not finish in {START_TIMEOUT:.0f}s\n{out[-3000:]}") from None
    if proc.returncode != 0:
        raise ClusterUnavailable(
            f"{what}: `ray start` exited {proc.returncode}\n{out[-3000:]}\n{_tail(temp_dir)}"
        )
    return proc.pid


def active_nodes(cluster: RayCluster) -> list[str]:
    """The node ids ``ray status`` lists as active."""
    result = subprocess.run(
        [cluster.ray, "status", f"--address={cluster.gcs_address}"],
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    if result.returncode != 0:
        return []
    nodes: list[str] = []
    section = None
    for line in result.stdout.splitlines():
        stripped = line.strip()
        if stripped.endswith(":") and " " not in stripped:
            section = stripped[:-1]
            continue
        if section == "Active":
            match = re.search(r"\bnode_([0-9a-f]+)", stripped)
            if match:
                nodes.append(match.group(1))
    return nodes


def _jobs_api_ready(cluster: RayCluster) -> bool:
    request = urllib.request.Request(
        f"{cluster.dashboard_url}/api/jobs/",
        headers={"Authorization": f"Bearer {cluster.env['RAY_AUTH_TOKEN']}"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    try:
        with opener.open(request, timeout=5) as response:
            json.loads(response.read() or b"[]")
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until_ready(cluster: RayCluster, nodes: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    api = False
    while time.monotonic() < deadline:
        seen = active_nodes(cluster)
        api = _jobs_api_ready(cluster)
        if len(seen) >= nodes and api:
            return
        time.sleep(1.0)
    raise ClusterUnavailable(
        f"cluster not ready after {timeout:.0f}s: {len(seen)}/{nodes} nodes active "
        f"({', '.join(seen) or 'none'}), jobs API {'up' if api else 'not answering'} at "
        f"{cluster.dashboard_url}\n{_tail(cluster.temp_dir)}"
    )


_SS_PROCESS = re.compile(r"pid=(\d+)")


def non_loopback_listeners(pids: set[int]) -> list[str]:
    """The ``ss`` lines of TCP/UDP sockets that ``pids`` listen on outside loopback."""
    ss = shutil.which("ss")
    if ss is None:
        raise RuntimeError("`ss` is not installed: cannot verify that Ray listens on loopback only")
    result = subprocess.run([ss, "-H", "-l", "-t", "-u", "-n", "-p"], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"`ss` failed: {result.stderr.strip()}")
    bad: list[str] = []
    for line in result.stdout.splitlines():
        owners = {int(p) for p in _SS_PROCESS.findall(line)}
        if not owners & pids:
            continue
        fields = line.split()
        if len(fields) < 5:
            continue
        local = fields[4]
        host = local.rsplit(":", 1)[0].strip("[]")
        host = host.split("%", 1)[0]
        if host not in LOOPBACK_HOSTS:
            bad.append(line.strip())
    return bad


# ---------------------------------------------------------------------------------------------
# start / stop


def _node_local_prefix(paths: Sequence[str], root: Path) -> list[str]:
    """A command prefix that runs the worker node in a mount namespace of its own, where each of
    ``paths`` is a private folder (bind-mounted from ``root/<n>``): that node sees its own
    ``/tmp/roar-cluster``, as a node on another machine would, instead of the head's."""
    unshare = shutil.which("unshare")
    if unshare is None:
        raise ClusterUnavailable("`unshare` is not installed: node-local folders need a mount namespace")
    mounts = []
    for n, path in enumerate(paths):
        private = root / str(n)
        private.mkdir(parents=True, exist_ok=True)
        Path(path).mkdir(parents=True, exist_ok=True)
        mounts.append(f"mount --bind {shlex.quote(str(private))} {shlex.quote(path)}")
    script = " && ".join([*mounts, 'exec "$@"'])
    return [unshare, "--mount", "--propagation", "private", "sh", "-c", script, "sh"]


def start_cluster(node_local: Sequence[str] = ()) -> RayCluster:
    """``node_local``: folders the worker node must not share with the head (see
    ``_node_local_prefix``; needs the right to make mount namespaces, e.g. root)."""
    ray = ray_cli()
    if ray is None:
        raise ClusterUnavailable("the `ray` CLI is not installed (expected .venv/bin/ray)")
    # short: Ray's unix sockets live under <temp>/session_<date>_<pid>/sockets (108-byte limit)
    temp_dir = Path(tempfile.mkdtemp(prefix="rr-", dir="/tmp"))
    token = secrets.token_hex(32)
    env = cluster_env(token)
    (gcs, dashboard, client, head_nm, head_om, head_metrics, head_agent, head_agent_grpc, head_rt,
     w_nm, w_om, w_metrics, w_agent, w_agent_grpc, w_rt) = _free_ports(15)
    cluster = RayCluster(
        dashboard_url=f"http://127.0.0.1:{dashboard}",
        gcs_address=f"127.0.0.1:{gcs}",
        temp_dir=temp_dir,
        env=env,
        ray=ray,
        python=_python_for(ray),
    )
    common = ["--node-ip-address=127.0.0.1", "--disable-usage-stats", "--object-store-memory=150000000"]
    try:
        cluster.sessions.append(
            _ray_start(
                [ray],
                [
                    "--head",
                    f"--port={gcs}",
                    "--dashboard-host=127.0.0.1",
                    f"--dashboard-port={dashboard}",
                    f"--ray-client-server-port={client}",
                    f"--node-manager-port={head_nm}",
                    f"--object-manager-port={head_om}",
                    f"--metrics-export-port={head_metrics}",
                    f"--dashboard-agent-listen-port={head_agent}",
                    f"--dashboard-agent-grpc-port={head_agent_grpc}",
                    f"--runtime-env-agent-port={head_rt}",
                    "--num-cpus=2",
                    f"--temp-dir={temp_dir}",
                    *common,
                ],
                env,
                "head node",
                temp_dir,
            )
        )
        prefix = _node_local_prefix(node_local, temp_dir / "w-local") if node_local else []
        cluster.sessions.append(
            _ray_start(
                [*prefix, cluster.python, "-c", _WORKER_NODE_START],
                [
                    f"--address={cluster.gcs_address}",
                    f"--node-manager-port={w_nm}",
                    f"--object-manager-port={w_om}",
                    f"--metrics-export-port={w_metrics}",
                    f"--dashboard-agent-listen-port={w_agent}",
                    f"--dashboard-agent-grpc-port={w_agent_grpc}",
                    f"--runtime-env-agent-port={w_rt}",
                    "--num-cpus=1",
                    # a temp dir of its own: by default a worker node takes the head's, and two
                    # nodes on one host then share <session>/runtime_resources, where each
                    # node's runtime-env agent extracts and deletes working_dir packages —
                    # a job driver's cwd vanished under it that way
                    f"--temp-dir={temp_dir / 'w'}",
                    *common,
                ],
                env,
                "worker node",
                temp_dir,
            )
        )
        wait_until_ready(cluster, nodes=2, timeout=START_TIMEOUT)
    except BaseException:
        stop_cluster(cluster)
        raise
    return cluster


def worker_node_processes(cluster: RayCluster) -> set[int]:
    """Every process of the worker node: its ``ray start`` session and the processes naming its
    temp dir, with their descendants (raylet, its Ray workers, whatever they started)."""
    return _cluster_pids([cluster.sessions[1]], str(cluster.temp_dir / "w"))


def kill_worker_node(cluster: RayCluster) -> set[int]:
    """Stops the worker node as a machine that dies would: SIGKILL to all its processes, by pid
    (never ``ray stop``, which would stop every Ray of the user). Returns the pids."""
    pids = worker_node_processes(cluster)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return pids


def stop_cluster(cluster: RayCluster, remove: bool = True) -> None:
    for _ in range(3):  # workers may still be spawning while the first round goes
        pids = cluster.processes()
        if not pids:
            break
        _kill(pids)
    if remove:
        shutil.rmtree(cluster.temp_dir, ignore_errors=True)


def _must_start() -> bool:
    return os.environ.get("ROAR_REQUIRE_CLUSTER", "").strip() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    """A running two-node loopback Ray cluster (see the module doc). ``str(cluster)`` and
    ``cluster.dashboard_url`` are the ``--address`` for ``ray job submit``; run ``ray`` with
    ``cluster.env`` (it carries the auth token)."""
    started = time.monotonic()
    try:
        cluster = start_cluster()
    except ClusterUnavailable as exc:
        if _must_start():
            pytest.fail(f"the Ray cluster did not start: {exc}")
        pytest.skip(f"a local two-node Ray cluster cannot start here: {exc}")
    try:
        bad = non_loopback_listeners(cluster.processes())
    except Exception:
        stop_cluster(cluster)
        raise
    if bad:
        stop_cluster(cluster)
        pytest.fail("Ray listens outside loopback:\n" + "\n".join(bad))
    cluster.start_seconds = time.monotonic() - started
    try:
        yield cluster
    finally:
        stop_cluster(cluster)
