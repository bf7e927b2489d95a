"""The chart, rendered offline through Helm's own SDK, and the tools the checks need.

Value sets: the chart's defaults plus every ``deploy/helm/jkn/ci/*.yaml``. A tool that is
missing (promtool from Debian's ``prometheus``, checkov in ``.venv/tools``; both installed by
``make setup``) fails the run under CI and skips elsewhere, like a server that cannot start.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "jkn"
RELEASE, NAMESPACE = "jkn", "jkn"
VALUE_SETS = ["default", *sorted(p.stem for p in (CHART / "ci").glob("*.yaml"))]
#: Kinds that come from CRDs: no schema in kubernetes-validate, checked on their own instead.
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
#: Every optional part switched on, so the checks see every template rendered.
EVERYTHING = {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True},
              "defaults": {"autoscaling": {"enabled": True}}}


def missing_tool(reason: str) -> None:
    """Fail loudly in CI; skip with the reason on a developer's machine."""
    if os.environ.get("CI"):
        pytest.fail(f"required tool unavailable: {reason}", pytrace=False)
    pytest.skip(f"required tool unavailable (run `make setup`): {reason}")


def tool(name: str, *candidates: Path) -> str:
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        missing_tool(f"{name} is not installed")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def promtool() -> str:
    return tool("promtool")


@pytest.fixture(scope="session")
def checkov() -> str:
    return tool("checkov", ROOT / ".venv" / "tools" / "bin" / "checkov")


def values_of(value_set: str) -> dict[str, Any]:
    if value_set == "default":
        return {}
    return yaml.safe_load((CHART / "ci" / f"{value_set}.yaml").read_text()) or {}


def render(chart: Path, values: dict[str, Any] | None = None, **options: Any) -> dict[str, str]:
    """Template path → rendered text, as `helm template` would write it (raises on any error)."""
    with helm.Chart.load(chart) as loaded:
        return loaded.render(values=values or {}, name=RELEASE, namespace=NAMESPACE, **options)


def documents(rendered: dict[str, str]) -> list[dict[str, Any]]:
    """The Kubernetes objects of a render (NOTES.txt and empty documents left out)."""
    docs = []
    for path, text in sorted(rendered.items()):
        if not path.endswith((".yaml", ".yml")):
            continue
        docs += [doc for doc in yaml.safe_load_all(text) if doc]
    return docs


@dataclass(frozen=True)
class Release:
    value_set: str
    values: dict[str, Any]
    objects: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def named(self, kind: str, name: str) -> dict[str, Any]:
        matches = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert len(matches) == 1, f"{kind}/{name}: {len(matches)} objects"
        return matches[0]

    def pod_specs(self) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """(object, pod spec) of every workload: Deployments, Jobs and bare Pods."""
        for obj in self.objects:
            if obj["kind"] in ("Deployment", "Job"):
                yield obj, obj["spec"]["template"]["spec"]
            elif obj["kind"] == "Pod":
                yield obj, obj["spec"]


@pytest.fixture(scope="session")
def releases() -> dict[str, Release]:
    """Every value set rendered once for the session."""
    return {name: Release(name, values_of(name), documents(render(CHART, values_of(name))))
            for name in VALUE_SETS}


@pytest.fixture(scope="session")
def everything() -> Release:
    """The default values with every optional object switched on."""
    return Release("everything", EVERYTHING, documents(render(CHART, EVERYTHING)))
