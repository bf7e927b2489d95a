"""The roles every service folder keeps (README "Layout"), checked on the code itself so they stay:
SQL only in stores (and migrations, seeds, bulk loads), servicers that only translate, handlers
typed with their messages, events only on the kit's topic constants."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GRPC_SERVICES = ("auth", "notify", "membership", "queue")
SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+(\s+\w+)?\s+SET|DELETE\s+FROM)\b", re.I | re.S)
#: Where SQL text belongs.
SQL_HOMES = {"store.py", "seed.py", "bulk.py"}
MAX_HANDLER_LINES = 15


def modules(service: str) -> list[Path]:
    return sorted(p for p in (ROOT / "services" / service).rglob("*.py") if "migrations" not in p.parts)


def strings(tree: ast.AST) -> list[ast.Constant]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def servicers(service: str) -> list[ast.ClassDef]:
    tree = ast.parse((ROOT / "services" / service / "server.py").read_text())
    return [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name.endswith("Servicer")]


def handlers(servicer: ast.ClassDef) -> list[ast.AsyncFunctionDef]:
    """The RPC methods: public, capitalised, async (gRPC's naming)."""
    return [n for n in servicer.body if isinstance(n, ast.AsyncFunctionDef) and n.name[:1].isupper()]


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_sql_lives_only_in_the_store_migrations_seeds_and_bulk_loads(service: str):
    found = [f"{path.relative_to(ROOT)}:{node.lineno}" for path in modules(service) if path.name not in SQL_HOMES
             for node in strings(ast.parse(path.read_text())) if SQL.search(node.value)]
    assert found == []


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_servicer_methods_only_translate(service: str):
    """Request → one use-case call → reply: short, and never a transaction, an event or SQL."""
    for servicer in servicers(service):
        for method in handlers(servicer):
            lines = method.end_lineno - method.lineno + 1  # type: ignore[operator]
            assert lines <= MAX_HANDLER_LINES, f"{servicer.name}.{method.name} has {lines} lines"
            calls = {n.func.attr for n in ast.walk(method) if isinstance(n, ast.Call)
                     and isinstance(n.func, ast.Attribute)}
            assert not calls & {"transaction", "acquire", "execute", "fetch", "fetchrow", "fetchval", "publish",
                                "add_event"}, f"{servicer.name}.{method.name} does the work itself"


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_every_handler_is_typed_with_its_messages(service: str):
    for servicer in servicers(service):
        for method in handlers(servicer):
            request, context = method.args.args[1:3]
            assert request.annotation is not None and method.returns is not None, f"{servicer.name}.{method.name}"
            assert ast.unparse(context.annotation) == "grpc.aio.ServicerContext", f"{servicer.name}.{method.name}"  # type: ignore[arg-type]


def test_events_are_published_on_the_kits_topic_constants():
    literal_topics = []
    for path in (ROOT / "services").rglob("*.py"):
        if path.name in {"kafka.py", "outbox.py", "events.py"} and path.parent.name == "kit":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in {
                    "publish", "add_event", "IdempotentConsumer"}:
                arguments = list(node.args[1:2]) + [k.value for k in node.keywords if k.arg == "topic"]
                literal_topics += [f"{path.relative_to(ROOT)}:{node.lineno}" for a in arguments
                                   if isinstance(a, ast.Constant)]
    assert literal_topics == []


def test_gateway_routes_share_through_models_not_through_each_other():
    """A route module takes shared shapes and helpers from ``models``/``deps``, never from another
    route module (README "Layout": the gateway's shared models in one module)."""
    routes = ROOT / "services" / "gateway" / "routes"
    package = "services.gateway.routes"
    crossing = []
    for path in sorted(routes.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and (
                    node.module.startswith(package + ".") or (node.module == package and node.names)):
                crossing.append(f"{path.name}: from {node.module} import {', '.join(a.name for a in node.names)}")
    assert not crossing, crossing
