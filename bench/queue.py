"""The 06:00 rush: 2,000 concurrent booking attempts for 100 seats.

Starts the whole local stack as `make run` does (every service its own process, on free ports,
a fresh data dir); loads synthetic participants (the bulk loader) and gives 2,000 active
participants of clinic 0114U001 an account (COPY) and an access token (the dev signing key).
The clinic publishes two 100-seat sessions (today and tomorrow). Then, all at once:

- 2,000 ``QueueService/CreateBooking`` calls over gRPC (today's session), through the kit's
  client channel as a service would call (its bulkhead keeps at most 512 in flight);
- 2,000 ``POST /v1/bookings`` through the gateway, one participant per token (tomorrow's);
- baseline, in the same run on the same Postgres: 2,000 concurrent bare single-row conditional
  ``UPDATE ... SET taken = taken + 1 WHERE taken < quota RETURNING`` statements through a pool
  of the same size as the queue service's.

Each run must sell exactly 100 seats with sequence numbers 1..100 (checked). Prints attempts/s,
the time until the last seat was sold, p50/p99 of the attempts and the ratios to the baseline.

    .venv/bin/python -m bench.queue [--attempts 2000] [--seats 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import asyncpg
import grpc
import httpx

from bench.common import report
from jkn.queue.v1 import partner_pb2, partner_pb2_grpc, queue_pb2, queue_pb2_grpc
from services.auth import tokens
from services.auth.settings import AuthSettings
from services.devstack.launch import start_stack
from services.kit.channels import open_channel
from services.kit.clock import jakarta_now
from services.kit.partner_auth import signed_metadata
from services.kit.signing import load_signing_keys
from services.membership import bulk
from services.queue.settings import QueueSettings

CLINIC = "0114U001"
CLIENT_POOL = 50  # connections per httpx client


class Shed(Exception):
    """The platform answered 503 (a dependency's deadline passed): counted, not fatal."""


async def timed(call) -> tuple[float, bool | None]:
    """(latency, sold?) — None when the attempt was shed with a 503 / UNAVAILABLE."""
    started = time.perf_counter()
    try:
        ok: bool | None = bool(await call)
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.UNAVAILABLE:
            ok = None
        elif error.code() == grpc.StatusCode.FAILED_PRECONDITION:  # QUOTA_FULL
            ok = False
        else:
            raise
    except Shed:
        ok = None
    return time.perf_counter() - started, ok


async def rush(calls: list, name: str) -> dict[str, float]:
    """Fire every call at once; report attempts/s and latencies; return the report row."""
    started = time.perf_counter()
    done_at: list[float] = []

    async def one(call):
        latency, ok = await timed(call)
        if ok:
            done_at.append(time.perf_counter() - started)
        return latency, ok

    results = await asyncio.gather(*(one(c) for c in calls))
    elapsed = time.perf_counter() - started
    row = report(name, len(results) / elapsed, [latency for latency, _ in results], unit="attempts/s")
    row["sold"] = sum(ok is True for _, ok in results)
    row["shed"] = sum(ok is None for _, ok in results)
    row["sold_out_s"] = max(done_at, default=0.0)
    print(f"{'':<16} sold {row['sold']} seats, the last after {row['sold_out_s']:.2f} s; "  # noqa: T201
          f"{row['shed']} attempts shed with 503")
    return row


async def bare_update(dsn: str, attempts: int, seats: int, pool_size: int) -> dict[str, float]:
    pool = await asyncpg.create_pool(dsn, min_size=pool_size, max_size=pool_size)
    try:
        await pool.execute("CREATE TABLE IF NOT EXISTS bench_seats (id int PRIMARY KEY, taken int NOT NULL,"
                           " quota int NOT NULL); TRUNCATE bench_seats")
        await pool.execute("INSERT INTO bench_seats VALUES (1, 0, $1)", seats)

        async def take() -> bool:
            return await pool.fetchval("UPDATE bench_seats SET taken = taken + 1 WHERE id = 1 AND taken < quota"
                                       " RETURNING taken") is not None

        row = await rush([take() for _ in range(attempts)], "bare UPDATE")
        assert await pool.fetchval("SELECT taken FROM bench_seats") == seats
        return row
    finally:
        await pool.close()


async def check_sold(dsn: str, schedule_id: str, day, seats: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        seqs = [r["seq"] for r in await conn.fetch("SELECT seq FROM bookings WHERE schedule_id = $1 AND date = $2"
                                                   " ORDER BY seq", uuid.UUID(schedule_id), day)]
    finally:
        await conn.close()
    assert seqs == list(range(1, seats + 1)), f"oversold or gaps: {len(seqs)} bookings"


async def accounts_for(auth_dsn: str, membership_dsn: str, count: int) -> list[tuple[str, str]]:
    """(account id, NOKA) of ``count`` active participants of the clinic, accounts made by COPY."""
    rows = await bulk.active_at(membership_dsn, CLINIC, count)
    records = [(uuid.uuid4(), r["id"], r["noka"], r["nik"], r["name"], r["birth_date"], f"+62812{i:08d}", "-")
               for i, r in enumerate(rows)]
    conn = await asyncpg.connect(auth_dsn)
    try:
        await conn.copy_records_to_table("accounts", records=records, columns=[
            "id", "participant_id", "noka", "nik", "name", "birth_date", "phone", "password_hash"])
    finally:
        await conn.close()
    return [(str(r[0]), r[2]) for r in records]


async def main(attempts: int, seats: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    stack = start_stack(work, JKN_LOG_LEVEL="WARNING")
    try:
        stack.wait_ready()
        dsn = f"postgresql://postgres@127.0.0.1:{stack.ports['postgres']}/{{}}"
        await bulk.load(dsn.format("jkn_membership"), attempts * 7)
        people = await accounts_for(dsn.format("jkn_auth"), dsn.format("jkn_membership"), attempts)
        today = jakarta_now().date()
        tomorrow = today + timedelta(days=1)
        queue_service = queue_pb2.DESCRIPTOR.services_by_name["QueueService"]
        async with open_channel(f"127.0.0.1:{stack.ports['queue']}", [queue_service], timeout_s=60) as channel:
            partner = partner_pb2_grpc.PartnerQueueServiceStub(channel)
            sessions = {}
            for day in (today, tomorrow):
                reply = await partner.UpsertSchedule(partner_pb2.UpsertScheduleRequest(
                    poli_code="001", doctor_code="DBENCH01", doctor_name="dr. Beban", date=day.isoformat(),
                    start="00:00", end="23:59", quota_jkn=seats), metadata=signed_metadata(
                        f"dev-secret-{CLINIC}", CLINIC))
                sessions[day] = reply.schedule_id

            conn = await asyncpg.connect(dsn.format("postgres"))
            await conn.execute("CREATE DATABASE bench_bare")
            await conn.close()
            pool_size = QueueSettings(env="test").db_pool_max
            baseline = await bare_update(dsn.format("bench_bare"), attempts, seats, pool_size)

            stub = queue_pb2_grpc.QueueServiceStub(channel)
            grpc_row = await rush([stub.CreateBooking(queue_pb2.CreateBookingRequest(
                caller=queue_pb2.Caller(account_id=account, noka=noka), schedule_id=sessions[today],
                date=today.isoformat()), timeout=60) for account, noka in people], "grpc CreateBooking")
            await check_sold(dsn.format("jkn_queue"), sessions[today], today, seats)

        key = load_signing_keys(AuthSettings(env="test").jwt_private_keys.get_secret_value())[0]
        # Many small client pools: one httpx pool with 2,000 connections spends its time in its
        # own bookkeeping (O(n²)) and would measure itself instead of the gateway.
        clients = [httpx.AsyncClient(base_url=stack.gateway, timeout=120, limits=httpx.Limits(
            max_connections=CLIENT_POOL, max_keepalive_connections=CLIENT_POOL))
            for _ in range(-(-attempts // CLIENT_POOL))]
        async with contextlib.AsyncExitStack() as opened:
            for client in clients:
                await opened.enter_async_context(client)

            bearer = {account: tokens.access_token(key, account_id=account, session_id=str(uuid.uuid4()), noka=noka)[0]
                      for account, noka in people}  # minted (as auth does) before the clock starts

            async def book(i: int, account: str, noka: str) -> bool:
                token = bearer[account]
                response = await clients[i % len(clients)].post(
                    "/v1/bookings", headers={"Authorization": f"Bearer {token}"},
                    json={"schedule_id": sessions[tomorrow], "date": tomorrow.isoformat()})
                if response.status_code == 503:
                    raise Shed()
                if response.status_code not in (201, 409):
                    raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
                return response.status_code == 201

            gateway_row = await rush([book(i, a, n) for i, (a, n) in enumerate(people)], "gateway POST")
        await check_sold(dsn.format("jkn_queue"), sessions[tomorrow], tomorrow, seats)
        for name, row in (("grpc", grpc_row), ("gateway", gateway_row)):
            sold_out = row["sold_out_s"] / baseline["sold_out_s"]
            print(f"ratio {name:<8} attempts/s {row['rps'] / baseline['rps']:.2f} of bare UPDATE   "  # noqa: T201
                  f"p99 x{row['p99'] / baseline['p99']:.1f}   sold out x{sold_out:.1f}")
    finally:
        stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=2000)
    parser.add_argument("--seats", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.attempts, args.seats))
