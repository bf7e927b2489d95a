"""The Helm chart passes Helm's own strict lint, offline (the full chart and its checks: issue 7)."""

from __future__ import annotations

from pathlib import Path

import helm_python as helm

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "jkn"


def test_chart_lints_strictly_without_errors():
    report = helm.lint(CHART, strict=True, quiet=False)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["total_charts_linted"] == 1
    assert report["errors"] == [] and problems == []


def test_lint_catches_a_broken_template(tmp_path):
    broken = tmp_path / "jkn"
    broken.mkdir()
    (broken / "Chart.yaml").write_text((CHART / "Chart.yaml").read_text())
    (broken / "values.yaml").write_text((CHART / "values.yaml").read_text())
    (broken / "templates").mkdir()
    (broken / "templates" / "bad.yaml").write_text("kind: ConfigMap\nname: {{ .Values.nothing.here }\n")
    report = helm.lint(broken, strict=True)
    assert report["errors"] or any(m["severity"] == 3 for m in report["messages"])
