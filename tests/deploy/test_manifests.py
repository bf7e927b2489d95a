"""Every rendered object is valid Kubernetes (kubernetes-validate, strict, offline) and passes
checkov with no failed check; the CRD objects get their own checks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.conftest import CHART, CRD_KINDS, EVERYTHING, VALUE_SETS, Release, documents, render, values_of

#: The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and a current one.
KUBE_VERSIONS = ("1.27.0", "1.30.0", "1.33.0")


def validation_errors(objects: list[dict[str, Any]], version: str) -> list[str]:
    errors = []
    for obj in objects:
        if obj["kind"] in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = "/".join(str(p) for p in error.path)
            errors.append(f"{obj['kind']}/{obj['metadata']['name']} at {path}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            errors.append(error.message)
    return errors


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("value_set", [*VALUE_SETS, "everything"])
def test_every_object_is_valid_kubernetes(value_set: str, version: str, releases: dict[str, Release],
                                          everything: Release):
    release = everything if value_set == "everything" else releases[value_set]
    assert validation_errors(release.objects, version) == []


def test_validation_catches_an_invalid_object(releases: dict[str, Release]):
    deployment = json.loads(json.dumps(releases["default"].named("Deployment", "jkn-auth")))
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "fifty"
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["grpcc"] = {"port": 1}
    errors = validation_errors([deployment], "1.30.0")
    assert len(errors) == 1 and "Deployment/jkn-auth" in errors[0]


def test_crd_objects_have_the_operator_shape(everything: Release):
    """ServiceMonitor and PrometheusRule have no bundled schema: their few fields are checked here,
    and the rules themselves by promtool (test_rules.py)."""
    for monitor in everything.of_kind("ServiceMonitor"):
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert set(monitor["spec"]) == {"selector", "namespaceSelector", "endpoints"}
        for endpoint in monitor["spec"]["endpoints"]:
            assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "relabelings"}
    (rule,) = everything.of_kind("PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert set(rule["spec"]) == {"groups"}
    for group in rule["spec"]["groups"]:
        assert set(group) <= {"name", "interval", "rules"}
        for r in group["rules"]:
            assert set(r) <= {"record", "alert", "expr", "for", "labels", "annotations"}


# -- checkov -------------------------------------------------------------------------------------------

def write_manifests(objects: list[dict[str, Any]], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for number, obj in enumerate(objects):
        name = f"{number:02d}-{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
        (directory / name).write_text(yaml.safe_dump(obj, sort_keys=False))
    return directory


def run_checkov(checkov: str, directory: Path) -> dict[str, Any]:
    """checkov over rendered manifests, offline (--skip-download: no platform, no severities)."""
    result = subprocess.run(
        [checkov, "--directory", str(directory), "--framework", "kubernetes", "--output", "json", "--quiet",
         "--compact", "--skip-download", "--soft-fail"],
        capture_output=True, text=True, timeout=300, env={"PATH": "/usr/bin:/bin", "LOG_LEVEL": "ERROR",
                                                          "BC_SKIP_MAPPING": "TRUE"})
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [check for r in reports for check in r.get("results", {}).get("failed_checks", [])]
    skipped = [check for r in reports for check in r.get("results", {}).get("skipped_checks", [])]
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    return {"failed": failed, "skipped": skipped, "passed": passed}


def describe(checks: list[dict[str, Any]]) -> list[str]:
    return sorted(f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in checks)


@pytest.mark.parametrize("value_set", [*VALUE_SETS, "everything"])
def test_checkov_finds_nothing(value_set: str, checkov: str, tmp_path: Path):
    values = EVERYTHING if value_set == "everything" else values_of(value_set)
    objects = [o for o in documents(render(CHART, values)) if o["kind"] not in CRD_KINDS]
    result = run_checkov(checkov, write_manifests(objects, tmp_path / value_set))
    assert result["passed"] > 100
    assert describe(result["failed"]) == []
    # every skip is one of the documented ones (values.yaml / README: "checkov skips")
    assert {c["check_id"] for c in result["skipped"]} <= {"CKV_K8S_43", "CKV_K8S_8", "CKV_K8S_9"}


def test_checkov_catches_an_insecure_pod(checkov: str, tmp_path: Path, releases: dict[str, Release]):
    deployment = json.loads(json.dumps(releases["default"].named("Deployment", "jkn-queue")))
    pod = deployment["spec"]["template"]["spec"]
    pod["containers"][0]["securityContext"].update(privileged=True, allowPrivilegeEscalation=True)
    pod["hostNetwork"] = True
    result = run_checkov(checkov, write_manifests([deployment], tmp_path / "insecure"))
    failed = {c["check_id"] for c in result["failed"]}
    assert {"CKV_K8S_16", "CKV_K8S_19", "CKV_K8S_20"} <= failed  # privileged, host network, escalation
