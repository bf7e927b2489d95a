"""The local stack: backing servers, then the platform processes, supervised.

Order of start: Postgres (one database per service), Redis, the Kafka-protocol broker,
the SMTP sink, then auth, notify, membership, queue and the gateway as separate
processes, and the BPJS-compatible bridge. It waits until the gateway's and the bridge's
``/readyz`` answer 200, prints the URLs and
supervises: a child that dies is reported loudly and brings the whole stack down.
Ctrl-C / SIGTERM stops everything (services first, then the servers) within 10 s.
State lives under ``JKN_DATA_DIR`` (``./var``); an empty directory is a fresh stack, and
the day of the first start is the "today" of the demo data.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from pydantic_settings import SettingsConfigDict

from services.devstack import infra
from services.kit.clock import jakarta_today
from services.kit.settings import (
    DEFAULT_BRIDGE_PORT,
    DEFAULT_GATEWAY_PORT,
    DEFAULT_KAFKA_PORT,
    DEFAULT_PG_PORT,
    DEFAULT_PORTS,
    DEFAULT_REDIS_PORT,
    DEFAULT_SMTP_PORT,
    PlatformSettings,
    shared,
)

SERVICES = ("auth", "notify", "membership", "queue")
STOP_BUDGET_S = 9.0


class StackSettings(PlatformSettings):
    model_config = SettingsConfigDict(env_prefix="JKN_", extra="ignore", populate_by_name=True, frozen=True)

    pg_port: int = DEFAULT_PG_PORT
    redis_port: int = DEFAULT_REDIS_PORT
    kafka_port: int = DEFAULT_KAFKA_PORT
    smtp_port: int = DEFAULT_SMTP_PORT
    gateway_port: int = shared("JKN_GATEWAY_PORT", DEFAULT_GATEWAY_PORT)
    bridge_port: int = shared("JKN_BRIDGE_PORT", DEFAULT_BRIDGE_PORT)
    ready_timeout_s: float = 60.0

    def grpc_port(self, service: str) -> int:
        return int(os.environ.get(f"JKN_{service.upper()}_GRPC_PORT", DEFAULT_PORTS[service][0]))

    def metrics_port(self, service: str) -> int:
        return int(os.environ.get(f"JKN_{service.upper()}_METRICS_PORT", DEFAULT_PORTS[service][1]))


def say(message: str) -> None:
    sys.stdout.write(f"[stack] {message}\n")
    sys.stdout.flush()


@dataclass
class Child:
    """A platform process, its output prefixed on our stdout and kept in a log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.argv, env=self.env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, process_group=0, preexec_fn=infra._die_with_parent)
        self._pump = asyncio.create_task(self._copy_output())

    async def _copy_output(self) -> None:
        """Whatever the child wrote, in the chunks it arrives in (a busy service writes many lines
        at once: one write each to the log and to our stdout, not two per line), whole lines only."""
        assert self.process is not None and self.process.stdout is not None
        prefix, partial = f"{self.name:<10} | ".encode(), b""
        with open(self.log_path, "ab") as log:  # noqa: ASYNC230 - a local append-only log
            while chunk := await self.process.stdout.read(1 << 16):
                lines, newline, partial = (partial + chunk).rpartition(b"\n")
                if not newline:
                    continue
                log.write(lines + b"\n")
                log.flush()
                sys.stdout.buffer.write(b"".join(prefix + line + b"\n" for line in lines.split(b"\n")))
                sys.stdout.flush()
            if partial:  # the child ended mid-line
                log.write(partial + b"\n")
                sys.stdout.buffer.write(prefix + partial + b"\n")
                sys.stdout.flush()

    async def stop(self, timeout_s: float) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), timeout_s)
        except TimeoutError:
            say(f"{self.name} did not stop within {timeout_s:.0f} s: killing it")
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._pump, 1)


class Stack:
    def __init__(self, settings: StackSettings):
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self.logs = self.data_dir / "logs"
        self.servers: list[infra.ServerProcess | infra.Postgres] = []
        self.smtp: infra.SmtpSink | None = None
        self.children: list[Child] = []
        self.stopping = False

    # -- start --------------------------------------------------------------------------
    def preflight(self) -> None:
        """Refuse to start, with one line, when a port is taken."""
        s = self.settings
        ports = {"postgres": s.pg_port, "redis": s.redis_port, "broker": s.kafka_port, "smtp": s.smtp_port,
                 "gateway": s.gateway_port, "bridge": s.bridge_port}
        for name in SERVICES:
            ports[name] = s.grpc_port(name)
            ports[f"{name} metrics"] = s.metrics_port(name)
        for name, port in ports.items():
            if infra.port_in_use(port):
                raise infra.InfraError(f"port {port} ({name}) is already taken: stop what uses it or set "
                                       "the port's JKN_* variable (see README)")

    def demo_today(self) -> str:
        """The day of the first start, kept in ``stack.json``: demo dates are relative to it."""
        state = self.data_dir / "stack.json"
        if state.exists():
            return json.loads(state.read_text())["first_started_on"]
        today = jakarta_today().isoformat()
        state.write_text(json.dumps({"first_started_on": today}))
        return today

    def start_servers(self) -> None:
        s = self.settings
        postgres = infra.Postgres(self.data_dir / "postgres" / "data", s.pg_port)
        self.servers.append(postgres)
        postgres.start()
        postgres.create_databases(*(f"jkn_{name}" for name in SERVICES))
        say(f"postgres   ready on 127.0.0.1:{s.pg_port}")
        for server in (infra.redis_server(self.data_dir / "redis", s.redis_port, persistent=True),
                       infra.broker(self.logs, s.kafka_port)):
            self.servers.append(server)
            server.start()
            say(f"{server.name:<10} ready on 127.0.0.1:{server.port}")
        self.smtp = infra.SmtpSink(s.smtp_port, self.data_dir / "mail")
        self.smtp.start()
        say(f"smtp sink  ready on 127.0.0.1:{s.smtp_port} (mail in {self.data_dir / 'mail'})")

    def child_env(self, today: str) -> dict[str, str]:
        s = self.settings
        env = dict(os.environ)
        env.setdefault("JKN_ENV", "dev")
        env.setdefault("JKN_LOG_JSON", "false")
        env.setdefault("JKN_CAPTCHA", "off")  # scripted clients and the dev pages; production default is on
        env.setdefault("JKN_GATEWAY_AUTH_RATE_PER_MIN", "600")  # every local client shares 127.0.0.1
        env.update({
            "JKN_DATA_DIR": str(self.data_dir), "JKN_DEMO_TODAY": today,
            "JKN_REDIS_URL": f"redis://127.0.0.1:{s.redis_port}/0",
            "JKN_KAFKA_BOOTSTRAP": f"127.0.0.1:{s.kafka_port}",
            "JKN_NOTIFY_SMTP_PORT": str(s.smtp_port), "JKN_GATEWAY_PORT": str(s.gateway_port),
            "JKN_BRIDGE_PORT": str(s.bridge_port),
            "PYTHONUNBUFFERED": "1",
        })
        for name in SERVICES:
            prefix = f"JKN_{name.upper()}_"
            env[f"JKN_{name.upper()}_ADDR"] = f"127.0.0.1:{s.grpc_port(name)}"
            env[prefix + "GRPC_PORT"] = str(s.grpc_port(name))
            env[prefix + "METRICS_PORT"] = str(s.metrics_port(name))
            env[prefix + "DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:{s.pg_port}/jkn_{name}"
            env.setdefault(prefix + "SEED_DEMO_DATA", "true")
            env.setdefault(prefix + "SHUTDOWN_GRACE_S", "4")
        return env

    async def start_children(self) -> None:
        env = self.child_env(self.demo_today())
        for name in (*SERVICES, "gateway", "bridge"):
            child = Child(name, [sys.executable, "-m", f"services.{name}"], env, self.logs / f"{name}.log")
            self.children.append(child)
            await child.start()

    async def wait_ready(self) -> None:
        waiting = [f"http://127.0.0.1:{port}/readyz" for port in (self.settings.gateway_port,
                                                                   self.settings.bridge_port)]
        deadline = time.monotonic() + self.settings.ready_timeout_s
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                self.check_children()
                for url in list(waiting):
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(url)).status_code == 200:
                            waiting.remove(url)
                if not waiting:
                    return
                await asyncio.sleep(0.25)
        raise infra.InfraError(f"the stack was not ready within {self.settings.ready_timeout_s:.0f} s "
                               f"(see {self.logs})")

    def check_children(self) -> None:
        """Raise if any process of the stack has died."""
        for child in self.children:
            if child.process is not None and child.process.returncode is not None:
                raise infra.InfraError(f"{child.name} exited with code {child.process.returncode} "
                                       f"(see {child.log_path})")
        for server in self.servers:
            process = server.server if isinstance(server, infra.Postgres) else server
            if process is not None and not process.running:
                raise infra.InfraError(f"{process.name} exited unexpectedly (see {process.log_path})")

    def banner(self) -> None:
        s = self.settings
        base = f"http://127.0.0.1:{s.gateway_port}"
        lines = [
            "", "JKN platform is up (JKN_ENV={}, data in {})".format(os.environ.get("JKN_ENV", "dev"), self.data_dir),
            f"  gateway        {base}   docs {base}/docs   openapi {base}/openapi.json",
            f"  readiness      {base}/readyz   metrics {base}/metrics",
            f"  dev outbox     {base}/dev/outbox?to=<phone or email>",
            f"  bpjs bridge    http://127.0.0.1:{s.bridge_port}/antreanrs/…  /vclaim-rest/…   (README: hospital guide)",
        ]
        for name in SERVICES:
            lines.append(f"  {name:<14} grpc 127.0.0.1:{s.grpc_port(name)}   "
                         f"metrics http://127.0.0.1:{s.metrics_port(name)}/metrics")
        lines += [f"  postgres       postgresql://postgres@127.0.0.1:{s.pg_port}/jkn_<service>",
                  f"  redis          redis://127.0.0.1:{s.redis_port}   kafka 127.0.0.1:{s.kafka_port}   "
                  f"smtp 127.0.0.1:{s.smtp_port}",
                  "Press Ctrl-C to stop.", ""]
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()

    # -- stop ---------------------------------------------------------------------------
    async def stop(self) -> None:
        """Services and gateway first (in parallel, SIGTERM then kill), then the servers."""
        if self.stopping:
            return
        self.stopping = True
        started = time.monotonic()
        await asyncio.gather(*(child.stop(timeout_s=6) for child in reversed(self.children)))
        if self.smtp is not None:
            self.smtp.stop()
        for server in reversed(self.servers):
            server.stop()
        say(f"stopped in {time.monotonic() - started:.1f} s")


async def run(settings: StackSettings) -> int:
    stack = Stack(settings)
    stack.data_dir.mkdir(parents=True, exist_ok=True)
    stack.logs.mkdir(parents=True, exist_ok=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    code = 0
    try:
        stack.preflight()
        await asyncio.to_thread(stack.start_servers)
        await stack.start_children()
        ready = asyncio.create_task(stack.wait_ready())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({ready, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if ready.done():
            ready.result()
            stack.banner()
            while not stop.is_set():
                stack.check_children()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
        else:
            ready.cancel()
        say("stopping")
    except infra.InfraError as error:
        sys.stderr.write(f"\n[stack] ✖ {error} — stopping the stack\n")
        code = 1
    finally:
        await stack.stop()
    return code


def main() -> None:
    settings = StackSettings()
    raise SystemExit(asyncio.run(run(settings)))
