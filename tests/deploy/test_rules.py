"""The alert rules: promtool accepts them (the plain file and what the chart renders), their unit
tests pass, every alert has a severity, a summary and a runbook that exists."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from deploy.chartgen import alerts
from tests.deploy.conftest import CHART, ROOT, Release

RULES = CHART / "rules" / "jkn-alerts.yaml"
RUNBOOKS = ROOT / "docs" / "runbooks"


def promtool_run(promtool: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *map(str, args)], capture_output=True, text=True, timeout=120)


def test_promtool_accepts_the_rules_file(promtool: str):
    result = promtool_run(promtool, "check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_accepts_the_rules_the_chart_renders(promtool: str, everything: Release, tmp_path: Path):
    (rule,) = everything.of_kind("PrometheusRule")
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    result = promtool_run(promtool, "check", "rules", rendered)
    assert result.returncode == 0, result.stdout + result.stderr
    plain = yaml.safe_load(RULES.read_text())["groups"]
    assert [len(g["rules"]) for g in rule["spec"]["groups"]] == [len(g["rules"]) for g in plain]


def test_the_alert_unit_tests_pass(promtool: str):
    for tests in sorted((CHART / "rules" / "tests").glob("*.yaml")):
        result = promtool_run(promtool, "test", "rules", tests)
        assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_catches_a_broken_rule(promtool: str, tmp_path: Path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({"groups": [{"name": "broken", "rules": [
        {"alert": "Broken", "expr": "sum by (job) (rate(http_requests_total[5m]) >", "labels": {"severity": "page"}},
    ]}]}))
    result = promtool_run(promtool, "check", "rules", broken)
    assert result.returncode != 0 and "Broken" in result.stdout + result.stderr


def test_every_alert_says_how_bad_and_what_to_do():
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
            assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
            assert rule["annotations"]["runbook_url"] == f"{alerts.RUNBOOK_BASE}/{rule['alert']}.md"


@pytest.mark.parametrize("alert", alerts.alert_names())
def test_every_alert_has_a_runbook(alert: str):
    runbook = RUNBOOKS / f"{alert}.md"
    assert runbook.exists(), f"docs/runbooks/{alert}.md"
    text = runbook.read_text()
    assert text.startswith(f"# {alert}")
    for section in ("## Meaning", "## Impact", "## Diagnosis", "## Mitigation"):
        assert section in text, f"{alert}: {section}"


def test_the_chart_points_runbook_urls_where_the_release_says(releases: dict[str, Release]):
    (rule,) = releases["production"].of_kind("PrometheusRule")
    urls = {r["annotations"]["runbook_url"] for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
    base = "https://git.bpjs.example.id/jkn/platform/-/blob/main/docs/runbooks"
    assert urls == {f"{base}/{alert}.md" for alert in alerts.alert_names()}
