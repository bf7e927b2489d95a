"""The Helm chart renders, lints strictly and refuses bad values, offline through Helm's own SDK;
what it renders is what the services need (env names, ports, probes, hardening, policies)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
from pydantic import SecretStr

from deploy.chartgen.__main__ import outputs
from services.auth.settings import AuthSettings
from services.bridge.settings import BridgeSettings
from services.gateway.settings import GatewaySettings
from services.kit.settings import PlatformSettings
from services.membership.settings import MembershipSettings
from services.notify.settings import NotifySettings
from services.queue.settings import QueueSettings
from tests.deploy.conftest import CHART, VALUE_SETS, Release, documents, render, values_of

SERVICES = ("auth", "notify", "membership", "queue")
HTTP = ("gateway", "bridge")
ALL = (*SERVICES, *HTTP)
#: notify's delivery worker: a Deployment of notify's image and settings with JKN_NOTIFY_ROLE=worker.
WORKER = "notify-worker"
WORKLOADS = (*ALL, WORKER)
SETTINGS: dict[str, type[PlatformSettings]] = {
    "auth": AuthSettings, "notify": NotifySettings, "membership": MembershipSettings, "queue": QueueSettings,
    "gateway": GatewaySettings, "bridge": BridgeSettings, "notify-worker": NotifySettings,
}
#: Variables read by libraries rather than by our settings classes.
#: Read by libraries or by the kit itself (services.kit.settings.load reads JKN_SECRETS_DIR).
LIBRARY_ENV = {"OTEL_EXPORTER_OTLP_ENDPOINT", "FORWARDED_ALLOW_IPS", "JKN_SECRETS_DIR"}
#: Who calls whom over gRPC (issue 7), and who comes through an ingress.
CALLS = {("gateway", "auth"), ("gateway", "notify"), ("gateway", "membership"), ("gateway", "queue"),
         ("auth", "membership"), ("auth", "notify"), ("membership", "queue"), ("membership", "notify"),
         ("queue", "membership"), ("queue", "notify"), ("bridge", "membership"), ("bridge", "queue")}
RECOMMENDED_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
                      "app.kubernetes.io/managed-by", "app.kubernetes.io/part-of", "helm.sh/chart")


def env_names(settings: type[PlatformSettings]) -> set[str]:
    """The environment variables a settings class reads (prefixed fields and shared aliases)."""
    prefix = settings.model_config.get("env_prefix", "")
    names = set()
    for field_name, field in settings.model_fields.items():
        alias = field.validation_alias
        if alias is not None and hasattr(alias, "choices"):
            names |= {str(choice) for choice in alias.choices}
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def secret_env_names(settings: type[PlatformSettings]) -> set[str]:
    prefix = settings.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name, field in settings.model_fields.items()
            if field.annotation is SecretStr}


def secret_files(release: Release, service: str) -> dict[str, tuple[str, str]]:
    """The files of the service's projected secrets volume: variable → (Secret, key)."""
    spec = release.named("Deployment", f"jkn-{service}")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    if "secrets" not in volumes:
        return {}
    return {item["path"]: (source["secret"]["name"], item["key"])
            for source in volumes["secrets"]["projected"]["sources"] for item in source["secret"]["items"]}


def container(release: Release, service: str) -> dict[str, Any]:
    deployment = release.named("Deployment", f"jkn-{service}")
    return deployment["spec"]["template"]["spec"]["containers"][0]


def copy_chart(tmp_path: Path) -> Path:
    copy = tmp_path / "jkn"
    shutil.copytree(CHART, copy)
    return copy


# -- lint and render ------------------------------------------------------------------------------

@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_chart_lints_strictly_without_warnings(value_set: str):
    report = helm.lint(CHART, values_of(value_set), strict=True, namespace="jkn", kube_version="v1.30.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["total_charts_linted"] == 1
    assert report["errors"] == [] and problems == []


def test_lint_and_render_catch_a_broken_template(tmp_path: Path):
    broken = copy_chart(tmp_path)
    (broken / "templates" / "broken.yaml").write_text("kind: ConfigMap\nname: {{ .Values.nothing.here }\n")
    report = helm.lint(broken, strict=True)
    assert report["errors"] or any(m["severity"] == 3 for m in report["messages"])
    with pytest.raises(helm.HelmError):
        render(broken)


def test_render_catches_a_template_that_fails_at_run_time(tmp_path: Path):
    broken = copy_chart(tmp_path)
    (broken / "templates" / "broken.yaml").write_text('{{ required "a value nobody set" .Values.missing }}\n')
    with pytest.raises(helm.HelmRenderError, match="a value nobody set"):
        render(broken)


@pytest.mark.parametrize(("values", "where"), [
    ({"services": {"auth": {"grpcPort": "fifty"}}}, "/services/auth/grpcPort"),
    ({"platform": {"env": "production"}}, "/platform/env"),
    ({"services": {"queue": {"replica": 3}}}, "/services/queue"),  # a misspelt key
    ({"defaults": {"securityContext": {"runAsNonroot": True}}}, "/defaults/securityContext"),
    ({"networkPolicy": {"postgresTo": [{"ipBlok": {"cidr": "10.0.0.0/8"}}]}}, "/networkPolicy/postgresTo/0"),
    ({"services": {"notify": {"secretEnv": {"JKN_NOTIFY_OTP_CODE_KEYS": 42}}}},
     "/services/notify/secretEnv/JKN_NOTIFY_OTP_CODE_KEYS"),
    # the delivery worker runs notify's image and settings: it has pod settings only
    ({"services": {"notify": {"worker": {"env": {"JKN_NOTIFY_SMTP_HOST": "elsewhere"}}}}}, "/services/notify/worker"),
    ({"services": {"auth": {"worker": {"replicas": 1}}}}, "/services/auth"),
])
def test_the_schema_refuses_wrong_values(values: dict[str, Any], where: str):
    with pytest.raises(helm.HelmValuesError) as refused:
        render(CHART, values)
    assert where in str(refused.value)
    report = helm.lint(CHART, values, strict=True)
    assert any(where in m["error"] for m in report["messages"] if m["severity"] == 3)


def test_every_object_level_of_the_schema_is_closed():
    schema = json.loads((CHART / "values.schema.json").read_text())
    open_objects = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            is_object = node.get("type") == "object" or "properties" in node or "patternProperties" in node
            if is_object and node.get("additionalProperties") is not False:
                open_objects.append(path)
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}/{index}")

    walk(schema, "#")
    assert open_objects == []


def test_generated_schema_rules_and_dashboards_are_up_to_date():
    stale = [str(path.relative_to(CHART)) for path, text in outputs().items()
             if not path.exists() or path.read_text() != text]
    assert stale == [], "run `python -m deploy.chartgen`"


# -- what the services get ----------------------------------------------------------------------------

@pytest.mark.parametrize("value_set", [*VALUE_SETS, "everything"])
def test_every_variable_is_one_the_service_reads(value_set: str, releases: dict[str, Release],
                                                  everything: Release):
    release = everything if value_set == "everything" else releases[value_set]
    for service in WORKLOADS:
        known = env_names(SETTINGS[service]) | LIBRARY_ENV
        names = {variable["name"] for variable in container(release, service)["env"]}
        assert names - known == set(), f"{service} gets variables no settings field reads"
        assert set(secret_files(release, service)) - known == set(), f"{service} gets secret files nobody reads"


def test_services_listen_on_all_interfaces_in_production_mode(releases: dict[str, Release]):
    for service in ALL:
        env = {v["name"]: v.get("value") for v in container(releases["default"], service)["env"]}
        assert env["JKN_ENV"] == "prod"
        host = f"JKN_{service.upper()}_HOST" if service in HTTP else f"JKN_{service.upper()}_GRPC_HOST"
        assert env[host] == "0.0.0.0"  # the settings' default, 127.0.0.1, is unreachable from a Service


def test_no_secret_is_an_environment_variable_they_are_files_from_secrets(releases: dict[str, Release],
                                                                         everything: Release):
    for release in (*releases.values(), everything):
        for obj, pod in release.pod_specs():
            for c in pod.get("containers", []) + pod.get("initContainers", []):
                refs = [e["name"] for e in c.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})]
                assert refs == [], f"{obj['kind']} {obj['metadata']['name']}: secrets in the environment {refs}"
    for value_set in ("default", "production"):
        for service in ALL:
            env = {v["name"]: v for v in container(releases[value_set], service)["env"]}
            files = secret_files(releases[value_set], service)
            if files:
                assert env["JKN_SECRETS_DIR"]["value"] == "/etc/jkn/secrets"
                mount = {m["name"]: m for m in container(releases[value_set], service)["volumeMounts"]}["secrets"]
                assert mount["mountPath"] == "/etc/jkn/secrets" and mount["readOnly"]
            if service in SERVICES:
                dsn = env[f"JKN_{service.upper()}_DATABASE_URL"]["value"]
                assert dsn.startswith("postgresql://") and ":" not in dsn.split("//")[1].split("@")[0]
                assert files[f"JKN_{service.upper()}_DATABASE_PASSWORD"][0] == "jkn-postgres"
    production = secret_files(releases["production"], "auth")
    assert production["JKN_REDIS_URL"] == ("jkn-redis", "url")
    env = {v["name"]: v for v in container(releases["production"], "auth")["env"]}
    assert "JKN_REDIS_URL" not in env
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://otel-collector.observability:4317"


def test_kafka_sasl_credentials_come_from_a_secret_and_the_brokers_ca_is_mounted(releases: dict[str, Release]):
    for service in ("auth", "notify", "membership", "queue"):
        spec = releases["production"].named("Deployment", f"jkn-{service}")["spec"]["template"]["spec"]
        env = {v["name"]: v for v in spec["containers"][0]["env"]}
        assert env["JKN_KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
        files = secret_files(releases["production"], service)
        assert files["JKN_KAFKA_SASL_USERNAME"] == ("jkn-kafka-user", "username")
        assert files["JKN_KAFKA_SASL_PASSWORD"] == ("jkn-kafka-user", "password")
        assert env["JKN_KAFKA_SSL_CAFILE"]["value"] == "/etc/jkn/kafka-ca/ca.crt"
        mounts = {m["name"]: m for m in spec["containers"][0]["volumeMounts"]}
        assert mounts["kafka-ca"]["mountPath"] == "/etc/jkn/kafka-ca" and mounts["kafka-ca"]["readOnly"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["kafka-ca"]["secret"]["secretName"] == "jkn-kafka-cluster-ca-cert"
    gateway = {v["name"] for v in container(releases["production"], "gateway")["env"]}
    assert not any(name.startswith("JKN_KAFKA") for name in gateway)  # the gateway does not use Kafka
    default = {v["name"]: v for v in container(releases["default"], "queue")["env"]}
    assert default["JKN_KAFKA_SECURITY_PROTOCOL"]["value"] == "PLAINTEXT"
    assert "JKN_KAFKA_SASL_USERNAME" not in secret_files(releases["default"], "queue")


def test_the_default_secrets_cover_what_prod_refuses_to_start_without(releases: dict[str, Release]):
    for service in WORKLOADS:
        names = set(secret_files(releases["default"], service))
        missing = secret_env_names(SETTINGS[service]) - names
        assert missing == set(), f"{service} would refuse to start with JKN_ENV=prod"


def test_ports_and_probes(releases: dict[str, Release]):
    for service in (*SERVICES, WORKER):
        spec = container(releases["default"], service)
        ports = {p["name"]: p["containerPort"] for p in spec["ports"]}
        assert set(ports) == {"grpc", "metrics"}
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert spec[probe]["grpc"] == {"port": ports["grpc"]}, f"{service} {probe}"
    gateway = container(releases["default"], "gateway")
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert [p["containerPort"] for p in gateway["ports"]] == [8080]
    bridge = container(releases["default"], "bridge")
    assert bridge["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert [p["containerPort"] for p in bridge["ports"]] == [8081]


@pytest.mark.parametrize("value_set", [*VALUE_SETS, "everything"])
def test_every_pod_is_hardened(value_set: str, releases: dict[str, Release], everything: Release):
    release = everything if value_set == "everything" else releases[value_set]
    for obj, pod in release.pod_specs():
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        assert pod["automountServiceAccountToken"] is False, where
        assert pod["securityContext"]["runAsNonRoot"] is True, where
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"], where
        for c in pod["containers"]:
            context = c["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context["runAsNonRoot"] is True and context["runAsUser"] >= 10000, where
            assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"], where
            assert c["resources"]["limits"] and c["resources"]["requests"], where


def test_every_service_has_its_own_tokenless_service_account(releases: dict[str, Release]):
    accounts = {a["metadata"]["name"]: a for a in releases["default"].of_kind("ServiceAccount")}
    for service in WORKLOADS:
        assert accounts[f"jkn-{service}"]["automountServiceAccountToken"] is False
        pod = releases["default"].named("Deployment", f"jkn-{service}")["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == f"jkn-{service}"


@pytest.mark.parametrize("value_set", [*VALUE_SETS, "everything"])
def test_every_object_carries_the_recommended_labels(value_set: str, releases: dict[str, Release],
                                                     everything: Release):
    release = everything if value_set == "everything" else releases[value_set]
    for obj in release.objects:
        labels = obj["metadata"].get("labels", {})
        assert all(label in labels for label in RECOMMENDED_LABELS), f"{obj['kind']}/{obj['metadata']['name']}"
        assert obj["metadata"]["namespace"] == "jkn"
    for service in ALL:
        deployment = release.named("Deployment", f"jkn-{service}")
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector["app.kubernetes.io/component"] == service
        assert "app.kubernetes.io/version" not in selector  # selectors never change between releases
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        assert release.named("Service", f"jkn-{service}")["spec"]["selector"] == selector


def test_grpc_services_are_headless_so_callers_balance_over_every_pod(releases: dict[str, Release]):
    for service in ("auth", "notify", "membership", "queue"):
        assert releases["default"].named("Service", f"jkn-{service}")["spec"]["clusterIP"] == "None"
    for service in HTTP:
        assert "clusterIP" not in releases["default"].named("Service", f"jkn-{service}")["spec"]  # behind ingresses


def test_pdb_for_every_service_and_hpa_only_when_asked(releases: dict[str, Release], everything: Release):
    assert releases["default"].of_kind("HorizontalPodAutoscaler") == []
    assert {p["metadata"]["name"] for p in releases["default"].of_kind("PodDisruptionBudget")} == {
        f"jkn-{name}" for name in WORKLOADS}
    assert {h["metadata"]["name"] for h in everything.of_kind("HorizontalPodAutoscaler")} == {
        f"jkn-{name}" for name in WORKLOADS}
    production = releases["production"]
    assert production.named("PodDisruptionBudget", "jkn-auth")["spec"] == {
        "minAvailable": 2, "selector": {"matchLabels": production.named(
            "Deployment", "jkn-auth")["spec"]["selector"]["matchLabels"]}}
    for service in WORKLOADS:
        assert "replicas" not in production.named("Deployment", f"jkn-{service}")["spec"]  # the HPA decides
        assert releases["default"].named("Deployment", f"jkn-{service}")["spec"]["replicas"] == 2
    assert production.named("HorizontalPodAutoscaler", "jkn-gateway")["spec"]["maxReplicas"] == 20


def test_images_by_tag_or_digest(releases: dict[str, Release]):
    assert container(releases["default"], "auth")["image"] == "registry.example.id/jkn/auth:0.1.0"
    assert container(releases["production"], "queue")["image"] == (
        "registry.bpjs.example.id/jkn/queue@sha256:" + "4" * 64)


# -- notify's delivery worker ---------------------------------------------------------------------

def env_of(release: Release, workload: str) -> dict[str, str | None]:
    return {v["name"]: v.get("value") for v in container(release, workload)["env"]}


@pytest.mark.parametrize("value_set", [*VALUE_SETS, "everything"])
def test_notify_runs_as_its_api_and_its_delivery_worker_with_the_same_settings(
        value_set: str, releases: dict[str, Release], everything: Release):
    release = everything if value_set == "everything" else releases[value_set]
    api, worker = container(release, "notify"), container(release, WORKER)
    api_env, worker_env = env_of(release, "notify"), env_of(release, WORKER)
    assert api_env.pop("JKN_NOTIFY_ROLE") == "api"
    assert worker_env.pop("JKN_NOTIFY_ROLE") == "worker"
    assert worker_env == api_env  # the same database, Redis, Kafka, providers and ports
    assert worker["image"] == api["image"] and "/jkn/notify" in api["image"]
    assert worker["volumeMounts"] == api["volumeMounts"]
    files = secret_files(release, WORKER)
    assert files == secret_files(release, "notify")
    # the worker derives the codes it sends and talks to the providers: it needs their secrets
    assert {"JKN_NOTIFY_OTP_CODE_KEYS", "JKN_NOTIFY_SMTP_PASSWORD", "JKN_NOTIFY_SMS_GATEWAY_TOKEN",
            "JKN_NOTIFY_DATABASE_PASSWORD"} <= set(files)
    pod = release.named("Deployment", f"jkn-{WORKER}")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == f"jkn-{WORKER}"
    assert "jkn-migrations-notify-worker" not in {j["metadata"]["name"] for j in release.of_kind("Job")}


def test_the_workers_pod_settings_are_its_own_over_the_defaults():
    values = {"services": {"notify": {
        "replicas": 5,
        "resources": {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"cpu": "4", "memory": "2Gi"}},
        "digest": "sha256:" + "9" * 64, "env": {"JKN_NOTIFY_SMTP_HOST": "smtp.internal"},
        "worker": {"replicas": 3, "pdb": {"minAvailable": 1}}}}}
    release = Release("custom", values, documents(render(CHART, values)))
    worker = release.named("Deployment", f"jkn-{WORKER}")
    assert worker["spec"]["replicas"] == 3
    assert release.named("Deployment", "jkn-notify")["spec"]["replicas"] == 5
    # the API's pod settings stay the API's; its process settings (image, env) are the worker's too
    assert container(release, WORKER)["resources"]["requests"] == {"cpu": "100m", "memory": "192Mi"}
    assert container(release, WORKER)["image"] == "registry.example.id/jkn/notify@sha256:" + "9" * 64
    assert env_of(release, WORKER)["JKN_NOTIFY_SMTP_HOST"] == "smtp.internal"
    assert release.named("PodDisruptionBudget", f"jkn-{WORKER}")["spec"]["minAvailable"] == 1
    assert release.named("PodDisruptionBudget", "jkn-notify")["spec"] == {
        "maxUnavailable": 1, "selector": release.named("Deployment", "jkn-notify")["spec"]["selector"]}


def test_the_chart_alone_sets_notifys_role():
    with pytest.raises(helm.HelmRenderError, match="JKN_NOTIFY_ROLE"):
        render(CHART, {"services": {"notify": {"env": {"JKN_NOTIFY_ROLE": "all"}}}})


def test_the_worker_is_probed_on_its_grpc_port_scraped_as_its_job_and_takes_no_calls(everything: Release):
    deployment = everything.named("Deployment", f"jkn-{WORKER}")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    worker = container(everything, WORKER)
    ports = {p["name"]: p["containerPort"] for p in worker["ports"]}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert worker[probe]["grpc"] == {"port": ports["grpc"]}, probe
    service = everything.named("Service", f"jkn-{WORKER}")["spec"]
    assert [(p["name"], p["port"]) for p in service["ports"]] == [("metrics", ports["metrics"])]  # no gRPC
    assert service["selector"].items() <= pod_labels.items()
    # notify's Service, which the callers dial, never sends them to a worker pod
    assert not everything.named("Service", "jkn-notify")["spec"]["selector"].items() <= pod_labels.items()
    monitor = everything.named("ServiceMonitor", f"jkn-{WORKER}")["spec"]
    assert monitor["selector"]["matchLabels"] == service["selector"]
    assert monitor["endpoints"][0]["port"] == "metrics"
    assert monitor["endpoints"][0]["relabelings"][0]["replacement"] == "jkn-notify-worker"
    pdb = everything.named("PodDisruptionBudget", f"jkn-{WORKER}")["spec"]
    assert pdb["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    hpa = everything.named("HorizontalPodAutoscaler", f"jkn-{WORKER}")["spec"]
    assert hpa["scaleTargetRef"]["name"] == f"jkn-{WORKER}"


@pytest.mark.parametrize("value_set", ["default", "production"])
def test_only_prometheus_reaches_the_worker_and_only_the_worker_reaches_the_providers(
        value_set: str, releases: dict[str, Release]):
    release = releases[value_set]
    policy = release.named("NetworkPolicy", f"jkn-{WORKER}")["spec"]
    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == WORKER
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    (scrape,) = policy["ingress"]
    assert scrape["from"] == release.values.get("networkPolicy", {}).get("prometheusFrom", [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}])
    assert scrape["ports"] == [{"port": 9462, "protocol": "TCP"}]
    assert [_component(peer) for rule in policy["egress"] for peer in rule.get("to", [])
            if _component(peer)] == []  # calls no service
    provider_rules = values_of(value_set).get("services", {}).get("notify", {}).get("extraEgress") or [
        {"ports": [{"port": 587, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}]}]
    api = release.named("NetworkPolicy", "jkn-notify")["spec"]["egress"]
    for rule in provider_rules:
        assert rule in policy["egress"]
        assert rule not in api


# -- network policies -----------------------------------------------------------------------------

def _component(peer: dict[str, Any]) -> str | None:
    return peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/component") \
        if "namespaceSelector" not in peer and "ipBlock" not in peer else None


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_network_policies_allow_exactly_the_calls_between_services(value_set: str, releases: dict[str, Release]):
    release = releases[value_set]
    policies = {p["spec"]["podSelector"]["matchLabels"].get("app.kubernetes.io/component", "*"): p
                for p in release.of_kind("NetworkPolicy")}
    deny = policies["*"]["spec"]
    assert deny["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in deny and "egress" not in deny
    allowed_in, allowed_out = set(), set()
    for callee in ALL:
        spec = policies[callee]["spec"]
        for rule in spec["ingress"]:
            for peer in rule["from"]:
                caller = _component(peer)
                if caller in ALL:
                    allowed_in.add((caller, callee))
        for rule in spec["egress"]:
            for peer in rule.get("to", []):
                target = _component(peer)
                if target in ALL:
                    allowed_out.add((callee, target))
    assert allowed_in == CALLS
    assert allowed_out == CALLS


def test_network_policies_let_in_ingress_controllers_and_prometheus_only_where_needed(releases: dict[str, Release]):
    release = releases["default"]
    ingress_from = {}
    for service in ALL:
        rules = release.named("NetworkPolicy", f"jkn-{service}")["spec"]["ingress"]
        ingress_from[service] = [(peer.get("namespaceSelector", {}).get("matchLabels", {})
                                  .get("kubernetes.io/metadata.name"), [p["port"] for p in rule["ports"]])
                                 for rule in rules for peer in rule["from"] if "namespaceSelector" in peer]
    assert ingress_from["gateway"] == [("ingress-nginx", [8080]), ("monitoring", [8080])]
    assert ingress_from["bridge"] == [("ingress-nginx", [8081]), ("monitoring", [8081])]
    assert ingress_from["queue"] == [("ingress-nginx", [50054]), ("monitoring", [9464])]
    assert ingress_from["membership"] == [("ingress-nginx", [50053]), ("monitoring", [9463])]
    assert ingress_from["auth"] == [("monitoring", [9461])]
    assert ingress_from["notify"] == [("monitoring", [9462])]


def test_egress_reaches_dns_and_exactly_the_backing_servers_each_service_uses(releases: dict[str, Release]):
    # notify's API never talks to the providers (SMTP 587, the SMS gateway 443): only its worker sends
    uses = {"auth": {5432, 6379, 9092}, "notify": {5432, 6379, 9092}, WORKER: {5432, 6379, 9092, 587, 443},
            "membership": {5432, 6379, 9092}, "queue": {5432, 9092}, "gateway": {6379}, "bridge": set()}
    callee_ports = {50051, 50052, 50053, 50054}
    for service in WORKLOADS:
        egress = releases["default"].named("NetworkPolicy", f"jkn-{service}")["spec"]["egress"]
        ports = {p["port"] for rule in egress for p in rule["ports"]}
        assert 53 in ports
        assert ports - callee_ports - {53} == uses[service], service
    production = releases["production"].named("NetworkPolicy", "jkn-auth")["spec"]["egress"]
    assert {"ipBlock": {"cidr": "10.20.0.0/24"}} in [peer for rule in production for peer in rule.get("to", [])]
    assert 4317 in {p["port"] for rule in production for p in rule["ports"]}  # the OTel collector


def test_the_migration_jobs_may_reach_postgres_and_nothing_else(releases: dict[str, Release]):
    spec = releases["default"].named("NetworkPolicy", "jkn-migrations")["spec"]
    assert "ingress" not in spec
    assert sorted(p["port"] for rule in spec["egress"] for p in rule["ports"]) == [53, 53, 5432]


# -- ingresses ------------------------------------------------------------------------------------

def test_public_ingress_routes_the_api_but_not_metrics(releases: dict[str, Release]):
    ingress = releases["default"].named("Ingress", "jkn-gateway")["spec"]
    paths = {p["path"] for rule in ingress["rules"] for p in rule["http"]["paths"]}
    assert paths == {"/v1", "/openapi.json", "/docs", "/", "/portal", "/sw.js", "/manifest.webmanifest"}  # + the portal
    assert ingress["tls"] == [{"hosts": ["api.jkn.example.id"], "secretName": "jkn-api-tls"}]


def test_partner_ingress_is_grpc_with_client_certificates_and_routes_only_partner_services(
        releases: dict[str, Release]):
    ingress = releases["default"].named("Ingress", "jkn-partners")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/backend-protocol"] == "GRPC"
    assert annotations["nginx.ingress.kubernetes.io/auth-tls-verify-client"] == "on"
    assert annotations["nginx.ingress.kubernetes.io/auth-tls-secret"] == "jkn/jkn-partner-ca"
    routes = {p["path"]: p["backend"]["service"]["name"]
              for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}
    assert routes == {"/jkn.queue.v1.PartnerQueueService": "jkn-queue",
                      "/jkn.membership.v1.PartnerMembershipService": "jkn-membership"}
    assert ingress["spec"]["tls"][0]["secretName"] == "jkn-partners-tls"


def test_bridge_ingress_routes_only_the_bpjs_paths(releases: dict[str, Release]):
    ingress = releases["default"].named("Ingress", "jkn-bridge")["spec"]
    routes = {p["path"]: p["backend"]["service"]["name"] for rule in ingress["rules"] for p in rule["http"]["paths"]}
    assert routes == {"/antreanrs": "jkn-bridge", "/vclaim-rest": "jkn-bridge"}
    assert ingress["tls"] == [{"hosts": ["bpjs-bridge.jkn.example.id"], "secretName": "jkn-bridge-tls"}]


def test_ingresses_can_be_left_out(releases: dict[str, Release]):
    assert releases["minimal"].of_kind("Ingress") == []


# -- hooks, monitoring objects, dashboards -------------------------------------------------------------

def test_migrations_run_as_a_pre_install_and_pre_upgrade_hook_per_database(releases: dict[str, Release]):
    jobs = {j["metadata"]["name"]: j for j in releases["default"].of_kind("Job")}
    assert set(jobs) == {f"jkn-migrations-{s}" for s in SERVICES}
    for service in SERVICES:
        job = jobs[f"jkn-migrations-{service}"]
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        migrate = job["spec"]["template"]["spec"]["containers"][0]
        assert migrate["command"] == ["python", "-m", "services.kit.migrate", service]
        assert migrate["image"] == f"registry.example.id/jkn/{service}:0.1.0"
        assert {v["name"] for v in migrate["env"]} == {"JKN_ENV", "JKN_SECRETS_DIR",
                                                       f"JKN_{service.upper()}_DATABASE_URL"}
        volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
        (source,) = volumes["secrets"]["projected"]["sources"]  # the database password, nothing else
        assert source["secret"]["items"][0]["path"] == f"JKN_{service.upper()}_DATABASE_PASSWORD"
    account = releases["default"].named("ServiceAccount", "jkn-migrations")
    assert account["metadata"]["annotations"]["helm.sh/hook-weight"] == "-10"  # before the Jobs
    assert releases["minimal"].of_kind("Job") == []


def test_helm_test_pod_checks_every_service(releases: dict[str, Release]):
    pod = releases["default"].named("Pod", "jkn-test")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    check = pod["spec"]["containers"][0]
    assert check["command"][2] == (CHART / "files" / "healthcheck.py").read_text()
    env = {v["name"]: v["value"] for v in check["env"]}
    assert env == {"JKN_AUTH_ADDR": "jkn-auth:50051", "JKN_NOTIFY_ADDR": "jkn-notify:50052",
                   "JKN_MEMBERSHIP_ADDR": "jkn-membership:50053", "JKN_QUEUE_ADDR": "jkn-queue:50054",
                   "JKN_TEST_GATEWAY_URL": "http://jkn-gateway:8080"}


def test_service_monitors_scrape_every_service_as_its_job(everything: Release):
    services = {s["metadata"]["name"]: s for s in everything.of_kind("Service")}
    monitors = everything.of_kind("ServiceMonitor")
    assert {m["metadata"]["name"] for m in monitors} == {f"jkn-{name}" for name in WORKLOADS}
    for monitor in monitors:
        name = monitor["metadata"]["name"]
        service = services[name]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        endpoint = monitor["spec"]["endpoints"][0]
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
        assert endpoint["relabelings"] == [{"action": "replace", "targetLabel": "job", "replacement": name}]


def test_dashboards_ship_as_labelled_configmaps(releases: dict[str, Release]):
    maps = [m for m in releases["default"].of_kind("ConfigMap") if "dashboard" in m["metadata"]["name"]]
    assert {m["metadata"]["name"] for m in maps} == {
        "jkn-dashboard-jkn-overview", "jkn-dashboard-jkn-otp", "jkn-dashboard-jkn-queue", "jkn-dashboard-jkn-bridge",
        "jkn-dashboard-jkn-data"}
    uids = set()
    for configmap in maps:
        assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
        (name, text), = configmap["data"].items()
        board = json.loads(text)
        assert board["uid"] == name.removesuffix(".json") and board["panels"]
        uids.add(board["uid"])
    assert len(uids) == len(maps)
    assert releases["minimal"].of_kind("ConfigMap") == []
