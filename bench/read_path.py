"""The authenticated read path: ``GET /v1/me/membership`` through the gateway, as the app opens.

Starts the whole stack as `make run` does (separate processes, `services.devstack.launch`), and,
as the baseline, a bare FastAPI endpoint returning the same body, served by uvicorn with the same
settings (one process, the same event loop and HTTP parser, no access log). The load comes from
`wrk` (one thread, 32 connections, keep-alive), which uses a small share of a core (printed). Each
round measures the bare endpoint, then the gateway, so both see the same machine; the ratio is
the gateway's throughput over the bare endpoint's in the same round.

Measured for 1 account (Dewi, logged in through ``POST /v1/sessions`` as the app does) and for
1,000 distinct participants (bulk-loaded, tokens minted with auth's dev key as auth does, each
request the next token: a Lua script). ``/healthz`` against the bare endpoint shows what the
gateway's edge costs by itself. Prints throughput, p50/p99, errors (non-2xx and socket errors),
the CPU each process spent per request, and ends with ``ratio read_path=… goal=0.35`` (the
median over the rounds, for one account). Before each measured run a 2-second run warms the
gateway (each token verified, each answer cached once), as a day's use would.

    .venv/bin/python -m bench.read_path [--duration 8] [--connections 32] [--rounds 2] [--accounts 1,1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

from bench.common import CpuMeter, WrkResult, print_wrk, ratio_line, stack_pids, wrk
from services.auth import tokens
from services.auth.settings import AuthSettings
from services.devstack.infra import free_port
from services.devstack.launch import start_stack
from services.kit.signing import load_signing_keys
from services.membership import bulk

GOAL = 0.35
HEALTHZ_GOAL = 0.8
DEWI = {"identifier": "5171014408950006", "password": "Sehat#2026"}
ROUTE = "/v1/me/membership"

BARE_APP = """
import sys
from fastapi import FastAPI
from fastapi.responses import Response
import uvicorn

body = open(sys.argv[2], "rb").read()
app = FastAPI()

@app.get("/v1/me/membership")
async def membership():
    return Response(body, media_type="application/json")

@app.get("/healthz")
async def healthz():
    return {"status": "ok"}

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=None, access_log=False, server_header=False)
"""

ROTATE_TOKENS = """
local tokens = {%s}
local i = 0
request = function()
  i = i %% #tokens + 1
  return wrk.format("GET", "%s", {["Authorization"] = "Bearer " .. tokens[i]})
end
"""


def login(base_url: str) -> str:
    reply = httpx.post(f"{base_url}/v1/sessions", json=DEWI, timeout=10)
    reply.raise_for_status()
    return reply.json()["access_token"]


async def participants(dsn: str, count: int) -> list[str]:
    """NOKAs of ``count`` participants (bulk-loaded as needed)."""
    conn = await asyncpg.connect(dsn)
    try:
        have = await conn.fetchval("SELECT count(*) FROM participants")
    finally:
        await conn.close()
    if have < count:
        await bulk.load(dsn, count - have)
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT noka FROM participants ORDER BY noka LIMIT $1", count)
    finally:
        await conn.close()
    return [r["noka"] for r in rows]


def minted(nokas: list[str]) -> list[str]:
    """An access token per NOKA, signed with the dev stack's key exactly as auth signs them."""
    key = load_signing_keys(AuthSettings(env="test").jwt_private_keys.get_secret_value())[0]
    return [tokens.access_token(key, account_id=str(uuid.uuid4()), session_id=str(uuid.uuid4()), noka=noka)[0]
            for noka in nokas]


def rotating(tokens_: list[str]) -> str:
    return ROTATE_TOKENS % (", ".join(json.dumps(t) for t in tokens_), ROUTE)


def start_bare(body: bytes, folder: Path) -> tuple[subprocess.Popen, str]:
    (folder / "body.json").write_bytes(body)
    (folder / "bare.py").write_text(BARE_APP)
    port = free_port()
    process = subprocess.Popen([sys.executable, str(folder / "bare.py"), str(port), str(folder / "body.json")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("the bare baseline did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--accounts", default="1,1000", help="comma-separated counts of distinct accounts")
    args = parser.parse_args()
    counts = [int(n) for n in args.accounts.split(",")]
    load = {"duration_s": args.duration, "connections": args.connections}

    with tempfile.TemporaryDirectory(prefix="bench-read-") as tmp:
        folder = Path(tmp)
        stack = start_stack(folder, JKN_LOG_LEVEL="INFO")
        bare = None
        try:
            print(f"stack ready in {stack.wait_ready(120):.1f} s")  # noqa: T201
            dewi = login(stack.gateway)
            body = httpx.get(f"{stack.gateway}{ROUTE}", headers={"Authorization": f"Bearer {dewi}"}).content
            bare, bare_url = start_bare(body, folder)
            dsn = f"postgresql://postgres@127.0.0.1:{stack.ports['postgres']}/jkn_membership"
            many = asyncio.run(participants(dsn, max(counts))) if max(counts) > 1 else []
            scripts = {1: None} | {n: rotating(minted(many[:n])) for n in counts if n > 1}
            headers = {"Authorization": f"Bearer {dewi}"}
            meter = CpuMeter({name: [pid] for name, pid in stack_pids(stack).items()})

            ratios: dict[int, list[float]] = {n: [] for n in counts}
            health: list[float] = []
            for round_ in range(1, args.rounds + 1):
                print(f"-- round {round_}")  # noqa: T201
                base = wrk(f"{bare_url}{ROUTE}", **load)
                print_wrk("bare FastAPI", base)
                for n in counts:
                    # warm: every token verified once and every answer cached once, as in a day's use
                    wrk(f"{stack.gateway}{ROUTE}", headers=headers if n == 1 else None, lua=scripts[n],
                        duration_s=2, connections=args.connections)
                    with meter.measure():
                        ours = wrk(f"{stack.gateway}{ROUTE}", headers=headers if n == 1 else None,
                                   lua=scripts[n], **load)
                    print_wrk(f"gateway, {n} account(s)", ours)
                    meter.print_per_request(ours.requests)
                    check(ours)
                    ratios[n].append(ours.rps / base.rps)
                base_health = wrk(f"{bare_url}/healthz", **load)
                with meter.measure():
                    ours_health = wrk(f"{stack.gateway}/healthz", **load)
                print_wrk("bare /healthz", base_health)
                print_wrk("gateway /healthz", ours_health)
                meter.print_per_request(ours_health.requests)
                check(ours_health)
                health.append(ours_health.rps / base_health.rps)
            print("-- ratios (gateway over bare, per round)")  # noqa: T201
            for n in counts:
                print(f"{n:>6} account(s): " + "  ".join(f"{r:.2f}" for r in ratios[n]))  # noqa: T201
            print("/healthz: " + "  ".join(f"{r:.2f}" for r in health)  # noqa: T201
                  + f"   goal >= {HEALTHZ_GOAL}")
        finally:
            if bare is not None:
                bare.terminate()
                bare.wait(10)
            stack.stop()
    ratio_line("healthz", statistics.median(health), HEALTHZ_GOAL)
    ratio_line("read_path", statistics.median(ratios[counts[0]]), GOAL)


def check(result: WrkResult) -> None:
    if result.errors:
        raise SystemExit(f"{result.errors} errors (non-2xx or socket):\n{result.output}")


if __name__ == "__main__":
    main()
