"""Dashboards and alerts ask only for metrics a running stack exports; the chart's helper scripts
(the migration hook, the `helm test` health check) work against real servers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml
from alembic.script import ScriptDirectory

from services.devstack.infra import free_port
from services.devstack.launch import SERVICES, Stack
from tests.deploy.conftest import CHART, ROOT
from tests.deploy.promql import exported_names, metric_names

RULES = CHART / "rules" / "jkn-alerts.yaml"
#: Grafana's variables, replaced by something PromQL accepts before promtool reads a panel's query.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "1h", "$__interval": "1m", "$namespace": ".*",
                     "$sms_cost_idr": "350"}


def rule_queries() -> dict[str, str]:
    """where → expression, for every recording and alert rule."""
    queries = {}
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for number, rule in enumerate(group["rules"]):
            queries[f"rules {group['name']} #{number} {rule.get('alert') or rule.get('record')}"] = rule["expr"]
    return queries


def recorded_names() -> set[str]:
    return {rule["record"] for group in yaml.safe_load(RULES.read_text())["groups"]
            for rule in group["rules"] if "record" in rule}


def dashboard_queries() -> dict[str, str]:
    """where → expression, for every panel target and query variable of every dashboard."""
    queries = {}
    for path in sorted((CHART / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                queries[f"{path.name} '{panel['title']}' {target['refId']}"] = target["expr"]
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                inner = re.fullmatch(r"label_values\((.*),\s*\w+\)", variable["definition"])
                assert inner, variable["definition"]
                queries[f"{path.name} variable {variable['name']}"] = inner.group(1)
    return queries


def unknown_metrics(queries: dict[str, str], exported: set[str]) -> dict[str, list[str]]:
    """where → the metric names its query selects that nothing exports or records."""
    known = exported | recorded_names() | {"up"}  # `up` is Prometheus' own, per scrape target
    report = {where: sorted(metric_names(expr) - known) for where, expr in queries.items()}
    return {where: missing for where, missing in report.items() if missing}


# -- the query parser ----------------------------------------------------------------------------

@pytest.mark.parametrize(("expr", "names"), [
    ('sum by (le, route) (rate(http_request_duration_seconds_bucket{route!~"/healthz|x"}[5m]))',
     {"http_request_duration_seconds_bucket"}),
    ("jkn:http_error_ratio:rate1h > (14.4 * 0.001) and jkn:http_error_ratio:rate5m > 0.0144",
     {"jkn:http_error_ratio:rate1h", "jkn:http_error_ratio:rate5m"}),
    ('max by (namespace, job) (outbox_backlog_events) > 0 unless on (namespace, job) '
     'sum by (namespace, job) (rate(outbox_events_published_total[15m] offset 1w)) > 0',
     {"outbox_backlog_events", "outbox_events_published_total"}),
    ('sum(increase(x_total{a="b"}[$__range])) * $sms_cost_idr / count(up{job=~"jkn-.+"}) or absent(y)',
     {"x_total", "up", "y"}),
    ('histogram_quantile(0.99, sum without (instance) (rate(a_bucket[1m]))) + 1e3 - Inf', {"a_bucket"}),
])
def test_the_parser_finds_the_metric_names_of_a_query(expr: str, names: set[str]):
    assert metric_names(expr) == names


def test_exposition_names_include_families_without_samples():
    page = ("# HELP a_total A.\n# TYPE a_total counter\n# HELP b Seconds.\n# TYPE b histogram\n"
            "# HELP c C.\n# TYPE c gauge\nc 0.0\n")
    assert {"a_total", "b_bucket", "b_sum", "b_count", "c"} <= exported_names(page)


# -- the queries are valid PromQL ---------------------------------------------------------------------

def test_every_dashboard_query_is_valid_promql(promtool: str, tmp_path: Path):
    rules = []
    for number, expr in enumerate(dashboard_queries().values()):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"an unknown Grafana variable in {expr}"
        rules.append({"record": f"dashboard:query:{number}", "expr": expr})
    check = tmp_path / "dashboards.yaml"
    check.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(check)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# -- against a running stack ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def exported(stack: Stack) -> set[str]:
    """Every series name the gateway, the bridge and the four services export."""
    pages = [httpx.get(f"{url}/metrics", timeout=5).text for url in (stack.gateway, stack.bridge)]
    pages += [httpx.get(f"http://127.0.0.1:{stack.ports[f'{name}_metrics']}/metrics", timeout=5).text
              for name in SERVICES]
    return set().union(*(exported_names(page) for page in pages))


@pytest.mark.e2e
def test_every_metric_a_dashboard_or_alert_queries_is_exported(exported: set[str]):
    assert unknown_metrics({**rule_queries(), **dashboard_queries()}, exported) == {}


@pytest.mark.e2e
def test_the_check_reports_an_alert_on_a_metric_that_does_not_exist(exported: set[str]):
    queries = {"rules jkn.alerts #99 JknMadeUp": 'sum(rate(otp_codes_lost_total{channel="sms"}[5m])) > 0',
               "dashboard typo": "histogram_quantile(0.9, sum by (le) (rate(queue_task_wait_second_bucket[5m])))"}
    assert unknown_metrics(queries, exported) == {
        "rules jkn.alerts #99 JknMadeUp": ["otp_codes_lost_total"],
        "dashboard typo": ["queue_task_wait_second_bucket"]}


def healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = (CHART / "files" / "healthcheck.py").read_text()
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})


def stack_addresses(stack: Stack) -> dict[str, str]:
    env = {f"JKN_{name.upper()}_ADDR": f"127.0.0.1:{stack.ports[name]}" for name in SERVICES}
    return {**env, "JKN_TEST_GATEWAY_URL": stack.gateway}


@pytest.mark.e2e
def test_the_helm_test_script_passes_against_a_healthy_stack(stack: Stack):
    result = healthcheck(stack_addresses(stack))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SERVING") == 4 and "HTTP 200" in result.stdout


@pytest.mark.e2e
def test_the_helm_test_script_fails_and_names_the_service_that_does_not_answer(stack: Stack):
    result = healthcheck({**stack_addresses(stack), "JKN_QUEUE_ADDR": f"127.0.0.1:{free_port()}"})
    assert result.returncode == 1
    assert "not healthy: queue" in result.stdout and "UNAVAILABLE" in result.stdout


# -- the migration hook ---------------------------------------------------------------------------

@pytest.mark.parametrize("service", ["auth", "notify", "membership", "queue"])
def test_the_migration_hook_migrates_a_fresh_database_and_is_idempotent(
        service: str, fresh_database: Callable[[str], str]):
    dsn = fresh_database(f"hook_{service}")
    env = {**os.environ, f"JKN_{service.upper()}_DATABASE_URL": dsn, "JKN_ENV": "prod"}
    for _ in range(2):  # as the chart's hook Job runs it (prod, no other secret), twice
        result = subprocess.run([sys.executable, "-m", "services.kit.migrate", service], capture_output=True,
                                text=True, timeout=120, env=env, cwd=ROOT)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"{service}: database migrated" in result.stdout
    head = ScriptDirectory(str(ROOT / "services" / service / "migrations")).get_current_head()
    with psycopg.connect(dsn) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [(head,)]
