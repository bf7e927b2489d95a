"""OTP issue + check through notify's gRPC API, against a bare ``grpc.aio`` echo server.

Starts its own Postgres, Redis and broker on free loopback ports and runs notify as deployed: its
API (``JKN_NOTIFY_ROLE=api``) in ``--servers`` processes, and the delivery pipeline (the relays to
Kafka and the delivery worker, ``JKN_NOTIFY_ROLE=worker``) in one more, at nice 19: it yields the
CPU to the rest, as it would run on nodes of its own (``--one-process``: all of notify in one
process, as `make run` does). In the same run, as many bare grpc.aio processes whose
IssueOtp/CheckOtp return empty answers (the echo), and as many doing one Redis script per call (the
floor). Load comes from several client *processes*, each with its own event loop and channels (its
flow loops spread over the server processes), so the client is not the bottleneck. Each flow issues
a code to a number and checks it with the right code (the client reads the verification's nonce
from Redis over a plain RESP connection and derives the code from the dev key, outside the timed
calls); every check must be approved.

Prints, per system: throughput, p50/p99 of issue+check, errors, the CPU of every process group
(notify's API, its worker, Redis, Postgres, the broker, the clients) per flow and the clients'
share, and how long delivery took to catch up after the stretch with the CPU per flow counted until
then; then the cost curve with 1 and 10,000 destinations (every flow to one number vs spread over
10,000), and ends with the ``ratio otp_issue_check=…`` line (notify's throughput over the echo's).

    .venv/bin/python -m bench.otp [--seconds 8] [--curve-seconds 3] [--clients 3] [--concurrency 16]
                                  [--servers 2] [--one-process] [--count] [--py-spy FILE]

``--count`` also counts Redis commands (INFO commandstats) and Postgres statements
(pg_stat_statements) per flow; ``--py-spy FILE`` records notify with py-spy while it is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

from bench.common import CpuMeter, ratio_line, report

GOAL = 0.5
CODE_KEY = "dev-otp-code-key"
REPO = Path(__file__).resolve().parent.parent


# --- the echo server (its own process) ----------------------------------------------------------


#: The floor's two scripts: the least an OTP engine does in Redis per call (issue: a verifier kept with its
#: expiry, a send counted in a window, the send handed to delivery on a stream; check: compare and spend).
FLOOR_ISSUE = """
redis.call('HSET', KEYS[1], 'verifier', ARGV[1], 'attempts', 0)
redis.call('PEXPIRE', KEYS[1], 300000)
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], 600000)
redis.call('XADD', KEYS[3], '*', 'v', KEYS[1])
return 1
"""
FLOOR_CHECK = """
local verifier = redis.call('HGET', KEYS[1], 'verifier')
if verifier == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return 0
"""


def _echo_main(conn: Connection, redis_url: str | None = None) -> None:
    """A bare grpc.aio server answering IssueOtp/CheckOtp with empty messages; with ``redis_url`` (the
    floor) each call first runs its one Redis script, as the least an OTP engine must do."""
    import uuid

    import grpc
    from redis.asyncio import Redis

    from jkn.notify.v1 import notify_pb2, notify_pb2_grpc

    redis = Redis.from_url(redis_url) if redis_url else None
    issue = redis.register_script(FLOOR_ISSUE) if redis else None
    check = redis.register_script(FLOOR_CHECK) if redis else None

    class Echo(notify_pb2_grpc.NotifyServiceServicer):
        async def IssueOtp(self, request, context):  # noqa: N802
            vid = uuid.uuid4().hex
            if issue is not None:
                await issue(keys=[f"floor:v:{vid}", f"floor:n:{request.destination}", "floor:sends"], args=["000000"])
            return notify_pb2.IssueOtpResponse(verification=notify_pb2.Verification(verification_id=vid))

        async def CheckOtp(self, request, context):  # noqa: N802
            if check is not None:
                await check(keys=[f"floor:v:{request.verification_id}"], args=[request.code])
            return notify_pb2.CheckOtpResponse()

    async def serve() -> None:
        server = grpc.aio.server()
        notify_pb2_grpc.add_NotifyServiceServicer_to_server(Echo(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        conn.send(port)
        await server.wait_for_termination()

    asyncio.run(serve())


# --- a client process ---------------------------------------------------------------------------


class _NonceReader:
    """The bench's own look-up of a verification's nonce and key id (``HMGET``), over one plain RESP
    connection per flow loop: the client's part of a flow, kept small (redis-py's asyncio client costs
    about three times as much CPU per call, all of it the load generator's, on the machine it measures)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def read(self, verification_id: str) -> tuple[bytes, str]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        key = f"otp:v:{verification_id}".encode()
        self.writer.write(b"*4\r\n$5\r\nHMGET\r\n$%d\r\n%s\r\n$5\r\nnonce\r\n$3\r\nkid\r\n" % (len(key), key))
        header = await self.reader.readline()  # *2
        if header != b"*2\r\n":
            raise RuntimeError(f"unexpected reply {header!r}")
        values = []
        for _ in range(2):
            size = int((await self.reader.readline())[1:])
            if size < 0:
                raise RuntimeError(f"verification {verification_id} not in Redis")
            values.append((await self.reader.readexactly(size + 2))[:-2])
        return bytes.fromhex(values[0].decode()), values[1].decode()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _run_flows(job: dict) -> dict:
    from urllib.parse import urlsplit

    import grpc

    from jkn.common.v1 import common_pb2
    from jkn.notify.v1 import notify_pb2, notify_pb2_grpc
    from services.notify import otp

    keys = {k.kid: k for k in otp.parse_code_keys(CODE_KEY)}
    purpose = notify_pb2.OTP_PURPOSE_REGISTRATION
    approved = notify_pb2.CHECK_OTP_RESULT_APPROVED
    real = job["kind"] == "notify"
    where = urlsplit(job["redis_url"])
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    destinations, base = job["destinations"], job["offset"]
    channels = [grpc.aio.insecure_channel(target) for target in job["targets"]]
    stubs = [notify_pb2_grpc.NotifyServiceStub(channel) for channel in channels]
    try:
        counter = iter(range(10**9))

        async def one(n: int, stub: notify_pb2_grpc.NotifyServiceStub, nonces: _NonceReader) -> float:
            number = base + n if destinations == 0 else random.randrange(destinations)
            flow = f"bench-{base + n}"
            started = time.perf_counter()
            issued = await stub.IssueOtp(notify_pb2.IssueOtpRequest(
                purpose=purpose, flow_id=flow, channel=common_pb2.CHANNEL_SMS,
                destination=f"+62812{number:08d}", client_ip="127.0.0.1"), timeout=10)
            issue_s = time.perf_counter() - started
            vid = issued.verification.verification_id
            code = "000000"
            if real:
                nonce, kid = await nonces.read(vid)
                code = otp.derive_code(keys[kid], vid, nonce)
            started = time.perf_counter()
            checked = await stub.CheckOtp(notify_pb2.CheckOtpRequest(
                verification_id=vid, code=code, purpose=purpose, flow_id=flow), timeout=10)
            elapsed = issue_s + time.perf_counter() - started
            if real and checked.result != approved:
                errors["not_approved"] += 1
            return elapsed

        async def worker(index: int, until: float, record: bool) -> None:
            stub = stubs[index % len(stubs)]  # the flow loops spread over the server processes
            nonces = _NonceReader(where.hostname or "127.0.0.1", where.port or 6379)
            try:
                while time.time() < until:
                    try:
                        elapsed = await one(next(counter), stub, nonces)
                    except grpc.aio.AioRpcError as error:
                        if record:
                            errors[error.code().name] += 1
                        continue
                    if record:
                        latencies.append(elapsed)
            finally:
                nonces.close()

        concurrency = job["concurrency"]
        await asyncio.gather(*(worker(i, job["start_at"], False) for i in range(concurrency)))  # warm-up
        started = time.perf_counter()
        await asyncio.gather(*(worker(i, job["start_at"] + job["seconds"], True) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    finally:
        for channel in channels:
            await channel.close()
    return {"latencies": latencies, "errors": dict(errors), "elapsed": elapsed}


def _client_main(conn: Connection) -> None:
    while True:
        job = conn.recv()
        if job is None:
            return
        conn.send(asyncio.run(_run_flows(job)))


class Clients:
    """Client processes kept for the whole run (stable pids for the CPU meter)."""

    def __init__(self, count: int):
        context = mp.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes = []
        for _ in range(count):
            ours, theirs = context.Pipe()
            process = context.Process(target=_client_main, args=(theirs,), daemon=True)
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    def run(self, *, kind: str, targets: list[str], redis_url: str, seconds: float, concurrency: int,
            destinations: int, warmup_s: float = 1.5) -> dict:
        start_at = time.time() + warmup_s
        for index, pipe in enumerate(self.pipes):
            pipe.send({"kind": kind, "targets": targets, "redis_url": redis_url, "seconds": seconds,
                       "concurrency": concurrency, "destinations": destinations, "start_at": start_at,
                       "offset": (index + 1) * 10_000_000 + int(start_at * 1000) % 1_000_000 * 10})
        time.sleep(max(0.0, start_at - time.time()))
        return {"start_at": start_at, "results": None}

    def collect(self) -> tuple[list[float], Counter[str], float]:
        latencies: list[float] = []
        errors: Counter[str] = Counter()
        elapsed = 0.0
        for pipe in self.pipes:
            result = pipe.recv()
            latencies += result["latencies"]
            errors.update(result["errors"])
            elapsed = max(elapsed, result["elapsed"])
        return latencies, errors, elapsed

    def close(self) -> None:
        for pipe in self.pipes:
            pipe.send(None)
        for process in self.processes:
            process.join(5)


# --- counting round trips -----------------------------------------------------------------------


def _redis_calls(redis_url: str) -> Counter[str]:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return Counter({name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()})


def _handled_sends(dsn: str) -> int:
    import asyncpg

    async def count() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM processed_events"))
        finally:
            await conn.close()

    return asyncio.run(count())


def _outbox_length(redis_url: str) -> int:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.xlen("otp:outbox"))
    finally:
        client.close()


def _flush_redis(redis_url: str) -> None:
    """Forget the previous stretch's per-destination and per-IP windows (the outbox stream and its
    group stay: the relay is reading them)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        for pattern in ("otp:d10:*", "otp:d24:*", "otp:ip:*", "otp:pfx:*", "otp:v:*"):
            batch: list[bytes] = []
            for key in client.scan_iter(pattern, count=5000):
                batch.append(key)
                if len(batch) >= 5000:
                    client.unlink(*batch)
                    batch.clear()
            if batch:
                client.unlink(*batch)
    finally:
        client.close()


def _seed_destinations(redis_url: str, count: int) -> None:
    """Every one of ``count`` numbers already has its 10 min and 24 h windows (one send a minute
    ago), as a busy hour would leave them, so each flow of the stretch meets existing state."""
    import redis

    from services.notify import otp

    key = otp.parse_code_keys(CODE_KEY)[0]
    at = int(time.time() * 1000) - 60_000
    client = redis.Redis.from_url(redis_url)
    try:
        pipe = client.pipeline(transaction=False)
        for n in range(count):
            dest = otp.destination_hash(key, f"+62812{n:08d}")
            for window, ttl_ms in (("d10", 600_000), ("d24", 86_400_000)):
                pipe.zadd(f"otp:{window}:{dest}", {f"seed:{n}": at})
                pipe.pexpire(f"otp:{window}:{dest}", ttl_ms)
            if n % 2000 == 1999:
                pipe.execute()
        pipe.execute()
    finally:
        client.close()


def _redis_footprint(redis_url: str) -> str:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        memory = client.info("memory")["used_memory"]
        windows = sum(1 for _ in client.scan_iter("otp:d24:*", count=1000))
        biggest = max((client.zcard(k) for k in client.scan_iter("otp:d24:*", count=1000)), default=0)
        return (f"{client.dbsize()} keys, {memory / 2**20:.1f} MiB, {windows} destination windows "
                f"(largest 24 h window {biggest} sends)")
    finally:
        client.close()


_PGSS_QUERY = "SELECT query, calls FROM pg_stat_statements"


def _pg_statements(dsn: str) -> Counter[str]:
    import asyncpg

    async def fetch() -> Counter[str]:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch(_PGSS_QUERY)
        finally:
            await conn.close()
        return Counter({" ".join(r["query"].split())[:90]: r["calls"] for r in rows})

    return asyncio.run(fetch())


def _print_counts(title: str, before: Counter[str], after: Counter[str], flows: int, skip: set[str]) -> None:
    delta = {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0) > 0 and k not in skip}
    total = sum(delta.values())
    print(f"  {title}: {total / max(1, flows):.2f} per flow")  # noqa: T201
    for name, calls in sorted(delta.items(), key=lambda kv: -kv[1]):
        if calls / max(1, flows) >= 0.01:
            print(f"    {calls / max(1, flows):6.2f}  {name}")  # noqa: T201


# --- the run ------------------------------------------------------------------------------------


def _measure(name: str, clients: Clients, meter: CpuMeter, *, kind: str, targets: list[str], redis_url: str,
             seconds: float, concurrency: int, destinations: int, counters: dict | None = None,
             drained: Callable[[], tuple[int, int]] | None = None) -> dict[str, float]:
    clients.run(kind=kind, targets=targets, redis_url=redis_url, seconds=seconds, concurrency=concurrency,
                destinations=destinations)
    before = {name: count() for name, count in (counters or {}).items()}
    with meter.measure():
        time.sleep(seconds)
    after = {name: count() for name, count in (counters or {}).items()}
    latencies, errors, elapsed = clients.collect()
    flows = len(latencies)
    row = report(name, flows / elapsed, latencies, unit="issue+check/s")
    row["flows"] = flows
    errors_text = ", ".join(f"{k} {v}" for k, v in sorted(errors.items())) or "0"
    print(f"  errors {errors_text}   client cpu {meter.share('clients'):.2f} cores "  # noqa: T201
          f"({100 * meter.spent.get('clients', 0) / max(1e-9, sum(meter.spent.values())):.0f} % of all CPU)")
    for group in meter.groups:
        spent = meter.spent.get(group, 0.0)
        print(f"  cpu {group:<9} {meter.share(group):5.2f} cores   {1000 * spent / max(1, flows):7.3f} ms/flow")  # noqa: T201
    row["errors"] = sum(errors.values())
    if drained is not None:
        _catch_up(meter, drained, flows)
    for title in counters or {}:
        _print_counts(title, before[title], after[title], flows, {"info", _PGSS_QUERY})
    return row


def _catch_up(meter: CpuMeter, drained: Callable[[], tuple[int, int]], flows: int) -> None:
    """Delivery falls behind under load (its worker yields the CPU here): wait until it has handled
    every queued send, and count that CPU too (what a flow really costs, delivery included)."""
    window = dict(meter.spent)
    after = CpuMeter(meter.groups)
    with after.measure():
        deadline = time.monotonic() + 20
        last = (-1, -1)
        while time.monotonic() < deadline:
            now = drained()
            if now[1] == 0 and now == last:
                break
            last = now
            time.sleep(0.3)
    total = {group: window.get(group, 0.0) + after.spent.get(group, 0.0) for group in meter.groups}
    print(f"  delivery caught up {after.elapsed_s:.1f} s after the stretch; cpu per flow with it: "  # noqa: T201
          + "   ".join(f"{group} {1000 * spent / max(1, flows):.3f}" for group, spent in total.items()
                       if group != "clients") + " ms")


def _enable_pg_stat_statements(postgres) -> None:  # noqa: ANN001
    import asyncpg

    async def alter() -> None:
        conn = await asyncpg.connect(postgres.dsn())
        try:
            await conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        finally:
            await conn.close()

    asyncio.run(alter())
    postgres.stop()
    postgres.start()


def main(args: argparse.Namespace) -> None:
    from services.devstack import infra

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="bench-otp-"))
    postgres = infra.Postgres(work / "pg" / "data", infra.free_port(), ephemeral=True)
    redis_server = infra.redis_server(work / "redis", infra.free_port(), persistent=False)
    broker = infra.broker(work, infra.free_port())
    apis: list[subprocess.Popen] = []
    worker: subprocess.Popen | None = None
    echoes: list = []
    clients: Clients | None = None
    for server in (postgres, redis_server, broker):
        server.start()
    try:
        if args.count:
            _enable_pg_stat_statements(postgres)
        postgres.create_databases("bench_notify")
        dsn = postgres.dsn("bench_notify")
        if args.count:
            import asyncpg

            async def extension() -> None:
                conn = await asyncpg.connect(dsn)
                await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                await conn.close()

            asyncio.run(extension())
        redis_url = f"redis://127.0.0.1:{redis_server.port}/0"
        big = str(10**9)
        env = {**os.environ, "JKN_ENV": "test", "JKN_LOG_LEVEL": "WARNING", "JKN_REDIS_URL": redis_url,
               "JKN_KAFKA_BOOTSTRAP": f"127.0.0.1:{broker.port}", "JKN_NOTIFY_DATABASE_URL": dsn,
               "JKN_NOTIFY_OTP_CODE_KEYS": CODE_KEY, "JKN_NOTIFY_SHUTDOWN_GRACE_S": "1",
               "JKN_NOTIFY_OTP_DESTINATION_10M": big, "JKN_NOTIFY_OTP_DESTINATION_24H": big,
               "JKN_NOTIFY_OTP_CLIENT_IP_1H": big, "JKN_NOTIFY_OTP_NUMBER_PREFIX_1H": big,
               "JKN_NOTIFY_OTP_SMS_BUDGET_1H": big}
        log = open(work / "notify.log", "ab")  # noqa: SIM115

        def start_notify(role: str, *, nice: bool = False) -> tuple[subprocess.Popen, int]:
            port = infra.free_port()
            process = subprocess.Popen(
                [sys.executable, "-m", "services.notify"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env={**env, "JKN_NOTIFY_ROLE": role, "JKN_NOTIFY_GRPC_PORT": str(port),
                                               "JKN_NOTIFY_METRICS_PORT": str(infra.free_port())},
                preexec_fn=(lambda: os.nice(19)) if nice else None)
            return process, port

        # As deployed: the API in its processes, the relays and the delivery worker in another (the chart's
        # notify and notify-worker Deployments); --one-process runs all of it in one, as `make run` does.
        started_apis = [start_notify("all" if args.one_process else "api")
                        for _ in range(1 if args.one_process else args.servers)]
        apis = [process for process, _ in started_apis]
        worker_port = 0
        if not args.one_process:
            # The worker yields the CPU to everything else here (nice 19), as it would run on nodes of its
            # own; what delivery costs is counted after the stretch, when it has caught up.
            worker, worker_port = start_notify("worker", nice=True)
        log.close()
        for process, port in started_apis:
            infra.wait_for_port(port, timeout_s=60, process=process, name="notify")
        if worker is not None:
            infra.wait_for_port(worker_port, timeout_s=60, process=worker, name="notify worker")
        context = mp.get_context("spawn")

        def start_echoes(redis: str | None) -> tuple[list, list[str]]:
            started, targets = [], []
            for _ in range(args.servers):
                ours, theirs = context.Pipe()
                process = context.Process(target=_echo_main, args=(theirs, redis), daemon=True)
                process.start()
                started.append(process)
                targets.append(f"127.0.0.1:{ours.recv()}")
            return started, targets

        echoes, echo_targets = start_echoes(None)
        clients = Clients(args.clients)
        backing = {"redis": [redis_server.process.pid], "postgres": [postgres.server.process.pid],  # type: ignore[union-attr]
                   "broker": [broker.process.pid]}  # type: ignore[union-attr]
        workers = {"worker": [worker.pid]} if worker is not None else {}
        notify_meter = CpuMeter({"notify": [p.pid for p in apis], **workers, **backing, "clients": clients.pids})
        echo_meter = CpuMeter({"echo": [p.pid for p in echoes], "clients": clients.pids})
        targets = [f"127.0.0.1:{port}" for _, port in started_apis]
        common = {"redis_url": redis_url, "concurrency": args.concurrency}
        print(f"{args.clients} client processes x {args.concurrency} flows in flight, "  # noqa: T201
              f"{args.seconds:.0f} s each ({args.curve_seconds:.0f} s per curve point), 1.5 s warm-up; "
              f"{len(apis)} notify API process(es) and {args.servers} echo process(es)")
        rows = {"echo": _measure("echo", clients, echo_meter, kind="echo", targets=echo_targets,
                                 seconds=args.seconds, destinations=0, **common)}
        floors, floor_targets = start_echoes(redis_url)
        floor_meter = CpuMeter({"floor": [p.pid for p in floors], "redis": [redis_server.process.pid],  # type: ignore[union-attr]
                                "clients": clients.pids})
        try:
            rows["floor"] = _measure("echo + Redis (floor)", clients, floor_meter, kind="echo", targets=floor_targets,
                                     seconds=args.seconds, destinations=0, **common)
        finally:
            for floor in floors:
                floor.terminate()
                floor.join(5)
        _flush_redis(redis_url)
        spy = None
        if args.py_spy:
            spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(apis[0].pid),
                                    "--duration", str(int(args.seconds) + 2), "--rate", "200", "--format", "raw",
                                    "--nonblocking", "-o", args.py_spy], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        counters = None
        if args.count:
            counters = {"Redis commands (hmget: the bench's code lookup)": lambda: _redis_calls(redis_url),
                        "Postgres statements": lambda: _pg_statements(dsn)}
        def drained() -> tuple[int, int]:
            return _handled_sends(dsn), _outbox_length(redis_url)

        rows["notify"] = _measure("notify", clients, notify_meter, kind="notify", targets=targets,
                                  seconds=args.seconds, destinations=0, counters=counters, drained=drained, **common)
        if spy is not None:
            spy.wait(30)
        print("cost curve: destinations (every flow to one of N numbers; limits raised so none refuses)")  # noqa: T201
        curve = {}
        for destinations in (1, 10_000):
            _flush_redis(redis_url)
            if destinations > 1:
                _seed_destinations(redis_url, destinations)
            curve[destinations] = _measure(f"notify N={destinations}", clients, notify_meter, kind="notify",
                                           targets=targets, seconds=args.curve_seconds, destinations=destinations,
                                           **common)
            print(f"  redis after: {_redis_footprint(redis_url)}")  # noqa: T201
        print(f"curve   N=1 → N=10000: throughput x{curve[10_000]['rps'] / curve[1]['rps']:.2f}   "  # noqa: T201
              f"p50 x{curve[10_000]['p50'] / curve[1]['p50']:.2f}")
        print(f"ratio   throughput notify/echo {rows['notify']['rps'] / rows['echo']['rps']:.3f}   "  # noqa: T201
              f"p50 notify/echo {rows['notify']['p50'] / rows['echo']['p50']:.1f}   "
              f"p99 notify/echo {rows['notify']['p99'] / rows['echo']['p99']:.1f}")
        print(f"floor   echo + one Redis script per call {rows['floor']['rps'] / rows['echo']['rps']:.3f} of the echo: "  # noqa: T201
              f"the most an OTP engine on grpc.aio and Redis reaches here; notify "
              f"{rows['notify']['rps'] / rows['floor']['rps']:.2f} of it")
        print(f"run took {time.monotonic() - started:.0f} s")  # noqa: T201
        ratio_line("otp_floor", rows["floor"]["rps"] / rows["echo"]["rps"], GOAL)
        ratio_line("otp_issue_check", rows["notify"]["rps"] / rows["echo"]["rps"], GOAL)
    finally:
        if clients is not None:
            clients.close()
        for echo in echoes:
            echo.terminate()
            echo.join(5)
        for running in (*apis, worker):
            if running is not None:
                running.terminate()
                try:
                    running.wait(10)
                except subprocess.TimeoutExpired:
                    running.kill()
        for server in (broker, redis_server, postgres):
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per system")
    parser.add_argument("--curve-seconds", type=float, default=3.0, help="measured seconds per curve point")
    parser.add_argument("--clients", type=int, default=3, help="client processes")
    parser.add_argument("--concurrency", type=int, default=16, help="flows in flight per client process")
    parser.add_argument("--one-process", action="store_true",
                        help="notify's API and delivery worker in one process (as `make run`), not two")
    parser.add_argument("--servers", type=int, default=2,
                        help="notify API processes, and as many echo and floor processes")
    parser.add_argument("--count", action="store_true", help="count Redis commands and Postgres statements")
    parser.add_argument("--py-spy", metavar="FILE", help="record notify with py-spy (raw folded stacks)")
    main(parser.parse_args())
