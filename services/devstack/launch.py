"""The whole local stack as `make run` starts it, as a child process on free ports with its own
data dir: what the end-to-end tests and the benchmarks drive."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.devstack.infra import free_ports, port_in_use

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("auth", "notify", "membership", "queue")


@dataclass
class Stack:
    process: subprocess.Popen
    ports: dict[str, int]
    data_dir: Path
    output: Path
    started_at: float = field(default_factory=time.monotonic)

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    @property
    def bridge(self) -> str:
        return f"http://127.0.0.1:{self.ports['bridge']}"

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_ready(self, timeout_s: float = 60) -> float:
        deadline = self.started_at + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the stack exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            try:
                if httpx.get(f"{self.gateway}/readyz", timeout=1).status_code == 200:
                    return time.monotonic() - self.started_at
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"/readyz not 200 within {timeout_s} s:\n{self.log()[-3000:]}")

    def wait_for_output(self, text: str, timeout_s: float = 5) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if text in self.log():
                return True
            time.sleep(0.1)
        return False

    def stop(self, sig: int = signal.SIGINT, timeout_s: float = 15) -> float:
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        return time.monotonic() - started

    def listening_ports(self) -> list[int]:
        return [port for port in self.ports.values() if port_in_use(port)]


def start_stack(tmp_path: Path, **env_overrides: str) -> Stack:
    names = ["gateway", "postgres", "redis", "kafka", "smtp", "bridge",
             *(f"{name}{suffix}" for name in SERVICES for suffix in ("", "_metrics"))]
    ports = dict(zip(names, free_ports(len(names)), strict=True))  # all different
    env = dict(os.environ)
    env.update({"JKN_DATA_DIR": str(tmp_path / "var"), "JKN_GATEWAY_PORT": str(ports["gateway"]),
                "JKN_PG_PORT": str(ports["postgres"]), "JKN_REDIS_PORT": str(ports["redis"]),
                "JKN_KAFKA_PORT": str(ports["kafka"]), "JKN_SMTP_PORT": str(ports["smtp"]),
                "JKN_BRIDGE_PORT": str(ports["bridge"])})
    for name in SERVICES:
        env[f"JKN_{name.upper()}_GRPC_PORT"] = str(ports[name])
        env[f"JKN_{name.upper()}_METRICS_PORT"] = str(ports[f"{name}_metrics"])
    env.update(env_overrides)
    output = tmp_path / "stack.out"
    with open(output, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "services.devstack"], cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    return Stack(process, ports, tmp_path / "var", output)
