"""Host-submit, cluster side: node agents and the in-cluster collector.

``roar run ray job submit …`` sets ``ROAR_MODE=cluster`` in the job's ``env_vars``. Workers on
every node then write their spool files into ``ROAR_SPOOL`` on that node's disk. This module
brings those spools home without GLaaS (docs/ray-submit.md, "Transport"):

- ``start()`` (called by the driver's ``ray.init`` patch, working in a thread) creates one
  detached **node agent** actor pinned to every alive node; the one on the driver's node is
  also the **collector**. A thread of the driver starts agents on nodes that join later.
- A node agent runs ``roar-agent ship`` (Swift, from the bundle) on its node: it reads new
  spool lines, hashes the files tasks read, seals batches to the run's public key and drops
  them in an outbox. The actor forwards outbox files to the collector, retrying until they are
  accepted (backpressure: one put in flight; the agent stops producing when the outbox fills).
- The collector spills every batch (base64 text) under ``<Ray logs dir>/roar/<run id>/`` on its
  node, where the host downloads them through the dashboard's log API after the job.
- With a lineage server (``ROAR_GLAAS_SESSION_URL``, the run's fragment session, and the
  capability ``ROAR_GLAAS_SESSION_TOKEN`` that writes to it), each agent PUTs its batches there
  instead, while the job runs; one that cannot reach the server says so once and falls back to
  the collector. The manifest names what was streamed (``streamed``) and who fell back.
- When the entrypoint has finished, ``driver_main`` writes ``_job_done`` into its spool folder.
  The agent on that node sees it and tells the collector, which asks every agent for a final
  round, writes ``manifest.json`` (the list of batches, ``complete`` true or false) and ends
  the actors.

Nothing here may break the user's job: every failure is counted and reported, never raised.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from . import ray_compat, spool

MODE_ENV = "ROAR_MODE"
NAMESPACE = "roar"
DONE_MARKER = "_job_done"
MANIFEST = "manifest.json"
#: How long the collector waits for agents' final rounds once the job is done.
FINAL_TIMEOUT_S = float(os.environ.get("ROAR_AGENT_FINAL_TIMEOUT", "60"))
#: How often an agent looks for new spool lines (seconds).
SHIP_INTERVAL_S = float(os.environ.get("ROAR_AGENT_INTERVAL", "2"))
#: A driver that died without its done marker (SIGKILL, node lost): how long after Ray marks
#: its job dead the agents wait before their final round anyway. The job's tasks die with it and
#: their spool lines are on disk within the flush bound (1 s): a few seconds are enough, and the
#: host's drain (``ROAR_DRAIN_TIMEOUT``, 60 s) must not give up first.
ORPHAN_GRACE_S = float(os.environ.get("ROAR_AGENT_ORPHAN_GRACE", "5"))
#: How often an agent checks that its collector and the driver's job are still there (seconds).
WATCH_INTERVAL_S = float(os.environ.get("ROAR_AGENT_WATCH_INTERVAL", "1"))
#: How often an agent restarts a ``roar-agent`` that died during the job before giving up on it.
MAX_RESTARTS = 5
#: The run's fragment session on the lineage server, and the capability that writes to it.
SESSION_URL_ENV = "ROAR_GLAAS_SESSION_URL"
SESSION_TOKEN_ENV = "ROAR_GLAAS_SESSION_TOKEN"
#: How long one PUT of a batch to the lineage server may take (seconds).
STREAM_TIMEOUT_S = float(os.environ.get("ROAR_GLAAS_TIMEOUT", "20"))

_HERE = os.path.dirname(os.path.abspath(__file__))
_started = False
_start_lock = threading.Lock()
_start_thread: threading.Thread | None = None
#: The nodes this driver started agents on (written into the done marker), and their actors.
_started_nodes: list[str] = []
_started_actors: list[Any] = []
#: How long ``ray.shutdown`` in the driver waits for agents still being created.
SETTLE_TIMEOUT_S = float(os.environ.get("ROAR_AGENT_START_TIMEOUT", "30"))


def is_cluster_mode() -> bool:
    return os.environ.get(MODE_ENV) == "cluster"


def bundle_binary(name: str) -> str:
    return os.path.join(_HERE, "bin", name)


def run_directory() -> str:
    """``ROAR_SPOOL`` is ``<run dir>/spool`` on every node; outboxes sit beside it."""
    return os.path.dirname(os.path.normpath(os.environ.get("ROAR_SPOOL", "/tmp/roar-cluster/unknown/spool")))


# ---------------------------------------------------------------------------------------------
# path restoration table


def package_name(uri: Any) -> str | None:
    """``gcs://_ray_pkg_<hash>.zip`` → ``_ray_pkg_<hash>``."""
    if not isinstance(uri, str) or "://" not in uri:
        return None
    name = uri.rsplit("/", 1)[-1]
    return name[:-4] if name.endswith(".zip") else name


def path_map(runtime_env: dict[str, Any], environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The ``PathRestorer`` table (Sources/RoarCore/PathRestorer.swift) for this job: the
    packages Ray uploaded, with the host folder each came from. The host sends the folders in
    ``ROAR_HOST_WORKING_DIR`` and ``ROAR_HOST_PY_MODULES`` (a JSON list aligned with the
    job's ``py_modules``, null for entries that were not host folders)."""
    env = os.environ if environ is None else environ
    packages: list[dict[str, str]] = []
    host_working_dir = env.get("ROAR_HOST_WORKING_DIR")
    name = package_name(runtime_env.get("working_dir"))
    if host_working_dir and name:
        packages.append({"name": name, "kind": "working_dir", "host_path": host_working_dir})
    try:
        host_modules = json.loads(env.get("ROAR_HOST_PY_MODULES") or "[]")
    except ValueError:
        host_modules = []
    modules = runtime_env.get("py_modules") or []
    if isinstance(modules, list) and isinstance(host_modules, list):
        for uri, host in zip(modules, host_modules, strict=False):
            name = package_name(uri)
            if name and isinstance(host, str) and host:
                # Ray keeps the module's folder inside the package: its root is the parent.
                packages.append({"name": name, "kind": "py_modules", "host_path": os.path.dirname(host.rstrip("/"))})
    return {"packages": packages}


# ---------------------------------------------------------------------------------------------
# the actors (defined lazily: ``ray`` is imported only inside a Ray process)


class _Collection:
    """The collector's state: held by the node agent on the driver's node (one actor fewer to
    start: on a small cluster each Ray worker process costs about a second of CPU)."""

    def __init__(self, run_id: str, owner: Any) -> None:
        self.run_id = run_id
        self.owner = owner  # the node agent holding this collection
        self.spill = os.path.join(ray_compat.logs_dir(), "roar", run_id)
        os.makedirs(self.spill, exist_ok=True)
        self.lock = threading.Lock()
        self.agents: dict[str, Any] = {}
        self.finished: dict[str, dict[str, Any]] = {}
        #: Agents that cannot make their final round (their actor died, or their node): why.
        self.lost: dict[str, str] = {}
        self.batches: list[str] = []
        self.expected: set = set()
        self.job_done_at: float | None = None
        self.manifest_written = False

    def spill_directory(self) -> str:
        return self.spill

    def register(self, node_id: str, agent: Any) -> None:
        with self.lock:
            self.agents.setdefault(node_id, agent)
            done = self.job_done_at is not None
        if done:
            self._ask_final_round(node_id, agent)

    def _ask_final_round(self, node_id: str, agent: Any) -> None:
        """Ask one agent for its final round. An agent whose actor is dead (SIGKILLed, its node
        stopped) answers with an error at once: it is counted lost now instead of being waited
        for until the final timeout."""
        import ray

        ref = agent.finish.remote()

        def wait() -> None:
            try:
                ray.get(ref, timeout=FINAL_TIMEOUT_S)
            except ray.exceptions.GetTimeoutError:
                return  # the deadline writes the manifest
            except Exception as exc:
                self.agent_lost(node_id, f"{type(exc).__name__}")

        threading.Thread(target=wait, daemon=True).start()

    def put(self, name: str, data: bytes) -> bool:
        """Spill one sealed batch. Idempotent: the same name again is accepted and ignored."""
        if "/" in name or not name.endswith(".rbat"):
            return False
        final = os.path.join(self.spill, name + ".b64")
        with self.lock:
            if name in self.batches and os.path.exists(final):
                return True
        temporary = final + ".tmp"
        with open(temporary, "wb") as f:
            f.write(base64.b64encode(data))
            f.write(b"\n")
        os.replace(temporary, final)
        with self.lock:
            if name not in self.batches:
                self.batches.append(name)
        return True

    def job_finished(self, expected_nodes: list[str]) -> None:
        """The entrypoint ended: ask every agent for its final round. ``expected_nodes`` are
        the nodes the driver started agents on: an agent still starting registers later and
        is asked then."""
        with self.lock:
            if self.job_done_at is not None:
                return
            self.job_done_at = time.time()
            self.expected = set(expected_nodes)
            agents = list(self.agents.items())
        for node_id, agent in agents:
            self._ask_final_round(node_id, agent)
        threading.Thread(target=self._deadline, daemon=True).start()

    def agent_finished(self, node_id: str, stats: dict[str, Any]) -> None:
        with self.lock:
            self.finished[node_id] = stats
        self._maybe_done()

    def agent_lost(self, node_id: str, reason: str) -> None:
        with self.lock:
            if node_id in self.finished:
                return
            self.lost[node_id] = reason
        self._maybe_done()

    def _maybe_done(self) -> None:
        with self.lock:
            waiting = (set(self.agents) | self.expected) - set(self.finished) - set(self.lost)
            all_done = self.job_done_at is not None and not waiting
        if all_done:
            self._write_manifest()

    def _deadline(self) -> None:
        time.sleep(FINAL_TIMEOUT_S)
        self._write_manifest()

    def _write_manifest(self) -> None:
        import ray

        with self.lock:
            if self.manifest_written:
                return
            self.manifest_written = True
            # No final word, or a final round that did not ship everything: that node's lineage
            # after its last forwarded batch is missing (counted on the host as ``agent_lost``).
            missing = sorted(
                ((set(self.agents) | self.expected) - set(self.finished))
                | {node for node, stats in self.finished.items() if stats.get("agent_exit") or stats.get("unsent")}
            )
            manifest = {
                "schema": "roar.drain/1",
                "run_id": self.run_id,
                "complete": not missing,
                "batches": sorted(self.batches),
                "streamed": sorted(n for stats in self.finished.values() for n in stats.get("streamed", [])),
                "stream_fallbacks": {
                    node: stats["stream_fallback"] for node, stats in self.finished.items()
                    if stats.get("stream_fallback")},
                "agents": {node: {k: v for k, v in stats.items() if k != "streamed"}
                           for node, stats in self.finished.items()},
                "missing_nodes": missing,
                "lost": dict(self.lost),
            }
            agents = list(self.agents.items())
        path = os.path.join(self.spill, MANIFEST)
        with open(path + ".tmp", "w") as f:
            json.dump(manifest, f)
        os.replace(path + ".tmp", path)
        # The job is over: clean the nodes, then end the other agents and this one.
        me = ray.get_runtime_context().current_actor
        for node_id, agent in agents:
            if agent == me or node_id in self.lost:
                continue
            try:
                ray.get(agent.cleanup.remote(), timeout=10)
            except Exception:
                pass
            try:
                ray.kill(agent)
            except Exception:
                pass
        self.owner.cleanup()

        def end() -> None:
            time.sleep(0.5)
            try:
                ray.kill(me)
            except Exception:
                os._exit(0)

        threading.Thread(target=end, daemon=True).start()


class _NodeAgent:
    """Detached, pinned to one node: supervises ``roar-agent ship`` and forwards its outbox to
    the collector. The agent on the driver's node is the collector (``collector`` is None)."""

    def __init__(self, run_id: str, node_id: str, collector: Any, settings: dict[str, Any]) -> None:
        # What this process reads and writes (spools, batches, the spill) is roar's own:
        # recorded, it would feed this agent's next batch, round after round.
        spool.stop_recording()
        self.run_id = run_id
        self.node_id = node_id
        self.collector = collector
        self.collection = _Collection(run_id, self) if collector is None else None
        self.spool = settings["spool"]
        self.outbox = os.path.join(os.path.dirname(self.spool), "outbox-" + node_id)
        os.makedirs(self.spool, mode=0o700, exist_ok=True)
        os.makedirs(self.outbox, mode=0o700, exist_ok=True)
        self.lock = threading.Lock()
        self.forwarded = 0
        self.failures = 0
        self.finished: dict[str, Any] | None = None
        self.reported_done = False
        self.stopping = False
        self.driver_job: str | None = settings.get("driver_job")
        self.driver_dead_since: float | None = None
        self.settings = settings
        self.restarts = 0
        self.stream = _SessionStream.from_environment(node_id)
        # ``roar-agent`` is started by the loop's thread, which lives as long as this agent: the
        # process is told to stop (SIGTERM, its final round) when that thread ends (``_start``).
        self.process: subprocess.Popen[bytes] | None = None
        self.process_started = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        self.process_started.wait(timeout=30)

    def _collector_call(self, method: str, *args: Any, timeout: float = 60) -> Any:
        """A collector method: run here when this agent is the collector, else on it."""
        import ray

        if self.collection is not None:
            return getattr(self.collection, method)(*args)
        return ray.get(getattr(self.collector, method).remote(*args), timeout=timeout)

    # The collector's methods (called on the agent of the driver's node).

    def put(self, name: str, data: bytes) -> bool:
        assert self.collection is not None
        return self.collection.put(name, data)

    def register(self, node_id: str, agent: Any) -> None:
        assert self.collection is not None
        self.collection.register(node_id, agent)

    def job_finished(self, expected_nodes: list[str]) -> None:
        assert self.collection is not None
        self.collection.job_finished(expected_nodes)

    def agent_finished(self, node_id: str, stats: dict[str, Any]) -> None:
        assert self.collection is not None
        self.collection.agent_finished(node_id, stats)

    def spill_directory(self) -> str:
        assert self.collection is not None
        return self.collection.spill_directory()

    def ready(self) -> bool:
        """Answers once the actor exists (``settle``)."""
        return True

    # The agent's own work.

    def _register(self) -> None:
        import ray

        me = ray.get_runtime_context().current_actor
        for attempt in range(30):
            try:
                self._collector_call("register", self.node_id, me, timeout=10)
                return
            except Exception as exc:
                spool.debug(f"registering with the collector failed (attempt {attempt + 1}): {exc!r}")
                time.sleep(1)

    def _start(self, settings: dict[str, Any], final_only: bool = False) -> subprocess.Popen[bytes]:
        binary = bundle_binary("roar-agent")
        argv = [
            binary, "ship", *(["--once"] if final_only else []),
            "--spool", self.spool,
            "--outbox", self.outbox,
            "--producer", "node-" + self.node_id,
            "--session", self.run_id,
            "--interval", str(settings.get("interval", SHIP_INTERVAL_S)),
            "--path-map", json.dumps(settings.get("path_map") or {"packages": []}),
        ]
        for flag, key in (("--project-dir", "project_dir"), ("--ignore", "ignore"), ("--include", "include")):
            if settings.get(key):
                argv += [flag, settings[key]]
        env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ROAR_SPOOL", "ROAR_EXEC", "ROAR_FDS")}
        env["ROAR_BATCH_PUBLIC_KEY"] = settings.get("public_key") or os.environ.get("ROAR_BATCH_PUBLIC_KEY", "")
        log = open(os.path.join(os.path.dirname(self.spool), "agent-" + self.node_id + ".log"), "ab")
        try:
            return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    preexec_fn=_agent_process_setup())
        finally:
            log.close()

    def _supervise(self) -> None:
        """``roar-agent`` died during the job (SIGKILL, the OOM killer): start it again. Its state
        file keeps what it shipped, so the new one goes on from there (at worst it ships some lines
        again, which the host writes at their offsets). A crash loop is given up after
        ``MAX_RESTARTS``; the final round then reports the exit and the node is counted lost."""
        process = self.process
        if process is None or process.poll() is None or self.stopping or self.restarts >= MAX_RESTARTS:
            return
        with self.lock:
            if self.stopping:
                return
            self.restarts += 1
            sys.stderr.write(
                f"roar: roar-agent of node {self.node_id} exited with {process.returncode}; restarting it "
                f"({self.restarts}/{MAX_RESTARTS})\n")
            try:
                self.process = self._start(self.settings)
            except Exception as exc:
                spool.debug(f"restarting roar-agent failed: {exc!r}")

    def _forward(self) -> None:
        """Send every finished batch file to the lineage server's session (when there is one and it
        answers) or to the collector, oldest first; keep what fails."""
        try:
            names = sorted(n for n in os.listdir(self.outbox) if n.endswith(".rbat"))
        except OSError:
            return
        for name in names:
            path = os.path.join(self.outbox, name)
            try:
                with open(path, "rb") as f:
                    data = f.read()
                if (self.stream is not None and self.stream.send(name, data)) or (
                        self._collector_call("put", name, data)):
                    os.unlink(path)
                    self.forwarded += 1
            except Exception as exc:
                self.failures += 1
                spool.debug(f"forwarding {name} failed, will retry: {exc!r}")
                return

    def _loop(self) -> None:
        try:
            self.process = self._start(self.settings)
        finally:
            self.process_started.set()
        self._register()
        # The watch makes calls to Ray that can take seconds on a loaded cluster: in a thread of
        # its own, so that forwarding and restarting a dead ``roar-agent`` never wait for it.
        threading.Thread(target=self._watch_loop, daemon=True).start()
        marker = os.path.join(self.spool, DONE_MARKER)
        while not self.stopping:
            with self.lock:
                self._forward()
            self._supervise()
            if not self.reported_done and os.path.exists(marker):
                self.reported_done = True
                try:
                    with open(marker) as f:
                        nodes = json.load(f).get("nodes") or []
                except (OSError, ValueError):
                    nodes = []
                threading.Thread(target=self._report_job_done, args=(nodes,), daemon=True).start()
            time.sleep(0.25)

    def _report_job_done(self, nodes: list[str]) -> None:
        try:
            self._collector_call("job_finished", nodes)
        except Exception as exc:
            spool.debug(f"could not report the job's end: {exc!r}")

    def _watch_loop(self) -> None:
        while not self.stopping:
            time.sleep(WATCH_INTERVAL_S)
            self._watch()

    def _watch(self) -> None:
        """Detached actors outlive everything: stop when the collector is gone, and finish
        when the driver's job died without saying it was done."""
        import ray

        if self.collector is not None:
            try:
                ray.get(self.collector.spill_directory.remote(), timeout=30)
            except ray.exceptions.RayActorError:
                self._stop_process()
                os._exit(0)
            except Exception:
                return
        if self.reported_done or not self.driver_job:
            return
        try:
            dead = any(j.get("JobID") == self.driver_job and j.get("IsDead") for j in ray_compat.jobs())
        except Exception:
            return
        if not dead:
            self.driver_dead_since = None
        elif self.driver_dead_since is None:
            self.driver_dead_since = time.monotonic()
        elif time.monotonic() - self.driver_dead_since > ORPHAN_GRACE_S:
            self.reported_done = True
            threading.Thread(target=self._report_job_done, args=([],), daemon=True).start()

    def _final_round(self) -> int | None:
        """SIGTERM to ``roar-agent``: it ships what is left and exits. One that died since the loop
        last looked (killed just before the job's end) is replaced by one that only makes the
        final round (``--once``): its state file says where the dead one stopped."""
        process = self.process
        if process is not None and process.poll() not in (None, 0) and self.restarts < MAX_RESTARTS:
            self.restarts += 1
            sys.stderr.write(
                f"roar: roar-agent of node {self.node_id} exited with {process.returncode}; its final round is "
                "made by a new one\n")
            try:
                self.process = self._start(self.settings, final_only=True)
            except Exception as exc:
                spool.debug(f"starting the final roar-agent failed: {exc!r}")
        return self._stop_process()

    def _stop_process(self) -> int | None:
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=FINAL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def finish(self) -> dict[str, Any]:
        """The final round: SIGTERM makes ``roar-agent`` ship what is left (and the digests of
        files still being written) and exit; then the outbox is emptied."""
        with self.lock:
            if self.finished is not None:
                return self.finished
            self.stopping = True
            exit_code: Any = self._final_round() if self.process is not None else "not started"
            self._forward()
            left = [n for n in os.listdir(self.outbox) if n.endswith(".rbat")] if os.path.isdir(self.outbox) else []
            self.finished = {
                "forwarded": self.forwarded,
                "forward_failures": self.failures,
                "unsent": len(left),
                "agent_exit": exit_code,
                "restarts": self.restarts,
            }
            if self.stream is not None:
                self.finished["streamed"] = list(self.stream.sent)
                if self.stream.fallback:
                    self.finished["stream_fallback"] = self.stream.fallback
        try:
            self._collector_call("agent_finished", self.node_id, self.finished)
        except Exception as exc:
            spool.debug(f"could not report the final round: {exc!r}")
        return self.finished

    def cleanup(self) -> None:
        """After the manifest: the node's spool for this run is no longer needed."""
        import shutil

        shutil.rmtree(os.path.dirname(self.spool), ignore_errors=True)


class _SessionStream:
    """One node's batches to the run's fragment session on the lineage server: ``PUT
    <session>/batches/<producer>/<seq>`` with the capability (docs/server-api.md). The first
    failure (server unreachable, refused, a timeout) ends streaming for this node: it is said once,
    on the agent's stderr and in the manifest, and the batch and all later ones go to the collector,
    so nothing waits on a server that does not answer."""

    def __init__(self, node_id: str, url: str, token: str) -> None:
        self.node_id = node_id
        self.url = url.rstrip("/")
        self.token = token
        self.sent: list[str] = []
        self.fallback: str | None = None

    @classmethod
    def from_environment(cls, node_id: str) -> _SessionStream | None:
        url, token = os.environ.get(SESSION_URL_ENV), os.environ.get(SESSION_TOKEN_ENV)
        return cls(node_id, url, token) if url and token else None

    def send(self, name: str, data: bytes) -> bool:
        """True once the server has the batch; False when it goes to the collector instead."""
        import urllib.error
        import urllib.request

        if self.fallback is not None:
            return False
        producer, _, seq = name[: -len(".rbat")].rpartition("-")
        request = urllib.request.Request(
            f"{self.url}/batches/{producer}/{int(seq)}", data=data, method="PUT",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/octet-stream"})
        try:
            with urllib.request.urlopen(request, timeout=STREAM_TIMEOUT_S) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode(errors="replace")
            return self._fall_back(f"{exc.code} {detail}".strip())
        except (OSError, ValueError) as exc:
            return self._fall_back(f"{type(exc).__name__}: {exc}")
        self.sent.append(name)
        return True

    def _fall_back(self, reason: str) -> bool:
        self.fallback = reason
        sys.stderr.write(
            f"roar: warning: node {self.node_id} cannot stream to the lineage server ({reason}); its batches go "
            "to the in-cluster collector from now on\n")
        return False


def _agent_process_setup() -> Any:
    """A ``preexec_fn`` for ``roar-agent``: SIGTERM and SIGINT start blocked, so that one sent
    while it starts (a final round asked right after a restart) waits for its ``sigtimedwait``
    instead of killing it; and the child is sent SIGTERM when the thread that started it ends
    (``PR_SET_PDEATHSIG``): when the agent's actor dies (SIGKILL, its node stopped), its
    ``roar-agent`` makes a final round and exits rather than running on as an orphan. ``prctl`` is
    looked up here, in the parent: the child only calls it."""
    try:
        import ctypes

        prctl: Any = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        prctl = None
    stop_signals = {signal.SIGTERM, signal.SIGINT}

    def child() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
        if prctl is not None:
            prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG

    return child


# ---------------------------------------------------------------------------------------------
# driver side


def _agent_class() -> Any:
    import ray

    # Threaded: puts from many agents, and finish/cleanup while the forwarding thread runs. The
    # job's own runtime env: a worker process of the job can be used, and no second env is built.
    return ray.remote(num_cpus=0, max_concurrency=16)(_NodeAgent)


def _job_runtime_env() -> dict[str, Any]:
    submitted = ray_compat.job_config_runtime_env()
    if submitted is not None:
        return submitted
    try:
        import ray

        return dict(ray.get_runtime_context().runtime_env or {})
    except Exception:
        return {}


def start() -> None:
    """Create the collector and the node agents for this run (once per driver process), in a
    thread: ``ray.init`` returns to the user's program meanwhile."""
    global _started, _start_thread
    with _start_lock:
        if _started or not is_cluster_mode():
            return
        _started = True
    _start_thread = threading.Thread(target=_start_quietly, name="roar-cluster-start", daemon=True)
    _start_thread.start()


def _start_quietly() -> None:
    try:
        _start()
    except Exception as exc:
        spool.count("cluster_start_failed")
        sys.stderr.write(
            f"roar: warning: could not start roar's node agents; lineage of this job may be missing: {exc!r}\n"
        )


def _start() -> None:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    run_id = os.environ["ROAR_RUN_ID"]
    settings = {
        "spool": os.environ["ROAR_SPOOL"],
        "path_map": path_map(_job_runtime_env()),
        "project_dir": os.environ.get("ROAR_PROJECT_DIR"),
        "ignore": os.environ.get("ROAR_HOST_IGNORE"),
        "include": os.environ.get("ROAR_HOST_INCLUDE"),
        "interval": SHIP_INTERVAL_S,
        "public_key": os.environ.get("ROAR_BATCH_PUBLIC_KEY"),
        "driver_job": ray.get_runtime_context().get_job_id(),
    }
    agent_cls = _agent_class()
    driver_node = ray.get_runtime_context().get_node_id()
    # The agent of the driver's node is also the collector; it must be where the driver's
    # done marker appears.
    collector = agent_cls.options(
        name="roar-collector-" + run_id, namespace=NAMESPACE, lifetime="detached", get_if_exists=True,
        scheduling_strategy=NodeAffinitySchedulingStrategy(driver_node, soft=False),
    ).remote(run_id, driver_node, None, settings)
    started: dict[str, Any] = {driver_node: collector}
    _started_nodes.append(driver_node)
    _started_actors.append(collector)

    def start_agents() -> None:
        for node in ray.nodes():
            node_id = node.get("NodeID")
            if not node.get("Alive") or not node_id or node_id in started:
                continue
            agent = agent_cls.options(
                name=f"roar-agent-{run_id}-{node_id}", namespace=NAMESPACE, lifetime="detached",
                get_if_exists=True, scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
            ).remote(run_id, node_id, collector, settings)
            started[node_id] = agent
            _started_nodes.append(node_id)
            _started_actors.append(agent)

    start_agents()

    def watch_nodes() -> None:
        # Nodes that join later get their agent too (until this driver disconnects).
        while True:
            time.sleep(2.0)
            try:
                if not ray.is_initialized():
                    return
                start_agents()
            except Exception:
                return

    threading.Thread(target=watch_nodes, name="roar-node-watch", daemon=True).start()


def settle(timeout: float | None = None) -> None:
    """Called by the driver's ``ray.shutdown`` (also at exit) before it disconnects: the agents
    this driver is creating must exist first. A driver that ends right after ``ray.init()``
    otherwise disconnects while ``_start`` is still at work (its calls fail, or the actors'
    creation goes down with the driver), no agent ever runs, and nothing of the job — not even
    the driver's own reads and writes — is shipped; the host then waits the whole drain timeout
    for a manifest that never comes."""
    thread = _start_thread
    if thread is None:
        return
    deadline = time.monotonic() + (SETTLE_TIMEOUT_S if timeout is None else timeout)
    thread.join(timeout=max(0.0, deadline - time.monotonic()))
    try:
        import ray

        refs = [actor.ready.remote() for actor in list(_started_actors)]
        if refs:
            ray.wait(refs, num_returns=len(refs), timeout=max(0.0, deadline - time.monotonic()))
    except Exception as exc:
        spool.debug(f"waiting for roar's node agents failed: {exc!r}")


def mark_job_done() -> None:
    """Called by ``driver_main`` when the entrypoint has ended (after its own last flush)."""
    if not is_cluster_mode():
        return
    if _start_thread is not None:
        _start_thread.join(timeout=60)  # a very short job: its agents must exist before the marker
    try:
        spool_dir = os.environ.get("ROAR_SPOOL", "")
        if not spool_dir:
            return
        os.makedirs(spool_dir, mode=0o700, exist_ok=True)
        path = os.path.join(spool_dir, DONE_MARKER)
        with open(path + ".tmp", "w") as f:
            json.dump({"pid": os.getpid(), "nodes": list(_started_nodes)}, f)
        os.replace(path + ".tmp", path)
    except Exception as exc:
        spool.debug(f"could not mark the job done: {exc!r}")
