"""Writes the chart's generated files; `--check` fails when a committed one is out of date.

- ``deploy/helm/jkn/values.schema.json`` (``schema.py``): JSON Schema of values.yaml. Every object level has
  ``additionalProperties: false`` (maps such as labels name their keys with ``patternProperties``);
  Kubernetes types (affinity, tolerations, security contexts, NetworkPolicy peers …) are the
  strict schemas bundled with kubernetes-validate, copied in.
- ``deploy/helm/jkn/rules/jkn-alerts.yaml``: the Prometheus recording and alert rules, a plain
  rules file that ``promtool check rules`` reads and the chart renders into a PrometheusRule
  (alerts in ``alerts.py``).
- ``deploy/helm/jkn/dashboards/*.json``: the Grafana dashboards (``dashboards.py``).

Usage: ``python -m deploy.chartgen`` (write) or ``python -m deploy.chartgen --check``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from deploy.chartgen import alerts, dashboards, schema

CHART = Path(__file__).resolve().parents[1] / "helm" / "jkn"


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings (PromQL reads as written), keys in the order given."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def rules_yaml() -> str:
    header = ("# Generated from deploy/chartgen/alerts.py: edit there, then run\n"
              "# `python -m deploy.chartgen`. Checked by `promtool check rules` (tests/deploy).\n")
    return header + yaml.dump(alerts.rule_file(), Dumper=_Dumper, sort_keys=False, width=110, allow_unicode=True)


def outputs() -> dict[Path, str]:
    files = {
        CHART / "values.schema.json": json.dumps(schema.values_schema(), indent=2) + "\n",
        CHART / "rules" / "jkn-alerts.yaml": rules_yaml(),
    }
    for name, board in dashboards.all_dashboards().items():
        files[CHART / "dashboards" / f"{name}.json"] = json.dumps(board, indent=2, ensure_ascii=False) + "\n"
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a generated file is out of date")
    args = parser.parse_args()
    stale = []
    for path, text in outputs().items():
        if path.exists() and path.read_text() == text:
            continue
        if args.check:
            stale.append(str(path.relative_to(CHART.parents[2])))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            sys.stdout.write(f"wrote {path.relative_to(CHART.parents[2])}\n")
    if stale:
        sys.stdout.write("out of date (run `python -m deploy.chartgen`): " + ", ".join(stale) + "\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
