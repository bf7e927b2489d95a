"""The JSON Schema of the chart's values (values.schema.json).

Helm validates every install, upgrade, template and lint against it, so a misspelt key or a
wrong type stops the release before anything reaches the cluster. Rules kept throughout:
- every object has ``additionalProperties: false``; a map (labels, annotations, env) names
  what its keys may look like in ``patternProperties`` instead;
- Kubernetes types are the strict schemas bundled with kubernetes-validate (the same ones the
  rendered manifests are checked against), copied in with their references rewritten.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

#: The Kubernetes release whose API types the values use (the chart needs >= 1.27).
KUBE_SCHEMA = "v1.30.0-local-strict"
K8S = "io.k8s.api.core.v1."

SERVICES = ("auth", "notify", "membership", "queue")
#: The HTTP services: the public REST gateway and the BPJS-compatible bridge for hospital software.
HTTP = ("gateway", "bridge")
ALL = (*SERVICES, *HTTP)

Schema = dict[str, Any]

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
# A qualified name with an optional DNS prefix (labels and annotations).
QUALIFIED_NAME = r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
SECRET_KEY = r"^[-._a-zA-Z0-9]+$"
DNS_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# An IPv4 or IPv6 address or network (the settings parse it exactly; this keeps out "*" and names).
CIDR = r"^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)(/[0-9]{1,3})?$"


def obj(properties: dict[str, Schema], *, required: tuple[str, ...] = (), description: str = "") -> Schema:
    schema: Schema = {"type": "object", "additionalProperties": False, "properties": properties}
    if required:
        schema["required"] = list(required)
    if description:
        schema = {"description": description, **schema}
    return schema


def mapping(keys: str, values: Schema, description: str = "") -> Schema:
    schema: Schema = {"type": "object", "patternProperties": {keys: values}, "additionalProperties": False}
    if description:
        schema = {"description": description, **schema}
    return schema


def string(description: str = "", **extra: Any) -> Schema:
    return {"type": "string", **({"description": description} if description else {}), **extra}


def integer(description: str = "", **extra: Any) -> Schema:
    return {"type": "integer", **({"description": description} if description else {}), **extra}


def boolean(description: str = "") -> Schema:
    return {"type": "boolean", **({"description": description} if description else {})}


def array(items: Schema, description: str = "") -> Schema:
    return {"type": "array", "items": items, **({"description": description} if description else {})}


def ref(name: str) -> Schema:
    return {"$ref": f"#/$defs/{name}"}


PORT = integer(minimum=1, maximum=65535)
LABELS = mapping(QUALIFIED_NAME, {"type": "string"})


# -- Kubernetes types, from kubernetes-validate's strict schemas ---------------------------------

@cache
def _k8s_definitions() -> dict[str, Schema]:
    path = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema", KUBE_SCHEMA,
                                                          "_definitions.json")
    return json.loads(path.read_text())["$defs"]


def _tighten(node: Any, wanted: set[str]) -> Any:
    """Drop descriptions, point references at our own $defs (collecting what they name), and turn
    `additionalProperties: <schema>` maps into patternProperties so every object is closed."""
    if isinstance(node, list):
        return [_tighten(item, wanted) for item in node]
    if not isinstance(node, dict):
        return node
    out: Schema = {}
    for key, value in node.items():
        if key == "description" or key.startswith("x-kubernetes-"):
            continue
        if key == "$ref":
            name = value.rpartition("/")[2]
            wanted.add(name)
            out[key] = f"#/$defs/{name}"
        elif key == "additionalProperties" and isinstance(value, dict):
            out["patternProperties"] = {"^.*$": _tighten(value, wanted)}
            out["additionalProperties"] = False
        elif key in ("properties", "patternProperties"):
            out[key] = {name: _tighten(sub, wanted) for name, sub in value.items()}
        else:
            out[key] = _tighten(value, wanted)
    if out.get("type") == "object" or "properties" in out:
        out.setdefault("additionalProperties", False)
    return out


def kubernetes_defs(roots: set[str]) -> dict[str, Schema]:
    """The strict schemas of ``roots`` and everything they reference."""
    source = _k8s_definitions()
    wanted, done = set(roots), dict[str, Schema]()
    while wanted - done.keys():
        name = sorted(wanted - done.keys())[0]
        done[name] = _tighten(source[name], wanted)
    return dict(sorted(done.items()))


# -- the chart's own types ---------------------------------------------------------------------------

def resources_schema() -> Schema:
    return ref(f"{K8S}ResourceRequirements")


def egress_rules() -> Schema:
    return array(ref("io.k8s.api.networking.v1.NetworkPolicyEgressRule"))


def peers(description: str) -> Schema:
    return array(ref("io.k8s.api.networking.v1.NetworkPolicyPeer"), description)


def workload_properties() -> dict[str, Schema]:
    """What `defaults` holds and each service may override."""
    return {
        "replicas": integer("pods when autoscaling is off", minimum=0),
        "terminationGracePeriodSeconds": integer(minimum=0),
        "drainDelayS": {"type": "number", "minimum": 0,
                        "description": "JKN_<SERVICE>_DRAIN_DELAY_S: NOT_SERVING → pause → stop"},
        "shutdownGraceS": {"type": "number", "minimum": 0,
                           "description": "JKN_<SERVICE>_SHUTDOWN_GRACE_S: time in-flight calls get"},
        "resources": resources_schema(),
        "autoscaling": obj({
            "enabled": boolean(),
            "minReplicas": integer(minimum=1),
            "maxReplicas": integer(minimum=1),
            "targetCPUUtilizationPercentage": integer(minimum=1, maximum=100),
        }),
        "pdb": obj({
            "maxUnavailable": {"type": ["integer", "string"]},
            "minAvailable": {"type": ["integer", "string"]},
        }, description="PodDisruptionBudget: minAvailable wins when both are set"),
        "podSecurityContext": ref(f"{K8S}PodSecurityContext"),
        "securityContext": ref(f"{K8S}SecurityContext"),
        "tmpSizeLimit": {"type": ["string", "integer"], "description": "size of the /tmp emptyDir"},
        "podAnnotations": LABELS,
        "podLabels": LABELS,
        "nodeSelector": LABELS,
        "tolerations": array(ref(f"{K8S}Toleration")),
        "affinity": ref(f"{K8S}Affinity"),
        "topologySpreadConstraints": array(ref(f"{K8S}TopologySpreadConstraint")),
        "priorityClassName": string(),
    }


def service_schema(name: str) -> Schema:
    properties = workload_properties()
    properties.update({
        "digest": string("image digest (sha256:…); wins over image.tag", pattern=r"^(sha256:[a-f0-9]{64})?$"),
        "uses": obj({"postgres": boolean(), "redis": boolean(), "kafka": boolean()},
                    description="backing servers the service talks to (env and egress follow)"),
        "existingSecret": string("the Secret that secretEnv reads from"),
        "secretEnv": mapping(ENV_NAME, string(pattern=SECRET_KEY),
                             "environment variable → key in existingSecret"),
        "env": mapping(ENV_NAME, {"type": ["string", "number", "boolean"]}, "plain environment variables"),
        "extraEgress": egress_rules(),
    })
    required: tuple[str, ...]
    if name in HTTP:
        properties["httpPort"] = PORT
        required = ("httpPort",)
    if name == "gateway":
        properties["trustedProxies"] = array(
            string(pattern=CIDR), "JKN_GATEWAY_TRUSTED_PROXIES: CIDRs of the proxies whose X-Forwarded-For is "
                                  "believed (the ingress controller's pods); empty: nobody, the TCP peer is the client")
    if name == "notify":
        properties["worker"] = obj(
            workload_properties(), description="the delivery worker (component notify-worker, JKN_NOTIFY_ROLE=worker): "
            "its pod settings over `defaults`; image, ports, uses, secrets, env and extraEgress are notify's")
    if name not in HTTP:
        properties["grpcPort"] = PORT
        properties["metricsPort"] = PORT
        required = ("grpcPort", "metricsPort")
    return obj(properties, required=required, description=f"the {name} service (over `defaults`)")


def values_schema() -> Schema:
    database = obj({"name": string(pattern=r"^[A-Za-z_][A-Za-z0-9_$]*$"), "user": string(minLength=1),
                    "passwordKey": string(pattern=SECRET_KEY)}, required=("name", "user", "passwordKey"))
    properties: dict[str, Schema] = {
        "nameOverride": string(),
        "fullnameOverride": string(),
        "platform": obj({
            "env": {"enum": ["dev", "test", "prod"], "description": "JKN_ENV"},
            "logLevel": {"enum": ["DEBUG", "INFO", "WARNING", "ERROR"]},
            "logJson": boolean(),
            "captcha": {"enum": ["on", "off"]},
            "rpcTimeoutS": {"type": "number", "exclusiveMinimum": 0},
            "listenHost": string(minLength=1),
        }, required=("env",)),
        "image": obj({
            "registry": string(minLength=1),
            "repository": string(minLength=1),
            "tag": string("default: the chart's appVersion"),
            "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
        }, required=("registry", "repository")),
        "imagePullSecrets": array(ref(f"{K8S}LocalObjectReference")),
        "postgres": obj({
            "host": string(minLength=1),
            "port": PORT,
            "sslMode": {"enum": ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]},
            "existingSecret": string("Secret holding each database user's password", minLength=1),
            "databases": obj({name: database for name in SERVICES}, required=SERVICES),
        }, required=("host", "port", "existingSecret", "databases")),
        "redis": obj({
            "url": string(pattern=r"^(rediss?://.*)?$"),
            "existingSecret": string("when set, JKN_REDIS_URL comes from this Secret"),
            "urlKey": string(pattern=SECRET_KEY),
            "port": PORT,
        }),
        "kafka": obj({
            "bootstrap": string(minLength=1),
            "ports": array(PORT),
            "securityProtocol": {"enum": ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]},
            "sasl": obj({
                "mechanism": {"enum": ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]},
                "existingSecret": string("Secret with the SASL user and password (needed with SASL_*)"),
                "usernameKey": string(pattern=SECRET_KEY),
                "passwordKey": string(pattern=SECRET_KEY),
            }),
            "tls": obj({
                "caSecret": string("Secret with the brokers' CA bundle; empty: the system CAs"),
                "caKey": string(pattern=SECRET_KEY),
            }),
        }, required=("bootstrap",)),
        "otel": obj({"endpoint": string("OTEL_EXPORTER_OTLP_ENDPOINT; empty: no export"), "port": PORT}),
        "defaults": obj(workload_properties()),
        "services": obj({name: service_schema(name) for name in ALL}, required=ALL),
        "calls": obj({name: array({"enum": list(SERVICES)}) for name in ALL},
                     description="caller → services it calls over gRPC"),
        "networkPolicy": obj({
            "enabled": boolean(),
            "publicIngressFrom": peers("the ingress controller in front of the gateway"),
            "partnerIngressFrom": peers("the ingress controller in front of the partner gRPC APIs"),
            "bridgeIngressFrom": peers("the ingress controller in front of the BPJS-compatible bridge"),
            "prometheusFrom": peers("Prometheus"),
            "dnsTo": peers("the cluster DNS"),
            "postgresTo": peers("Postgres (empty: any address, on its port)"),
            "redisTo": peers("Redis (empty: any address, on its port)"),
            "kafkaTo": peers("Kafka (empty: any address, on its ports)"),
            "otelTo": peers("the OTel collector (empty: any address, on its port)"),
        }),
        "ingress": obj({
            "enabled": boolean(),
            "className": string(),
            "host": string(pattern=DNS_NAME),
            "tlsSecretName": string(minLength=1),
            "annotations": LABELS,
            "paths": array(obj({"path": string(pattern=r"^/"),
                                "pathType": {"enum": ["Prefix", "Exact", "ImplementationSpecific"]}},
                               required=("path", "pathType"))),
        }),
        "partnerIngress": obj({
            "enabled": boolean(),
            "className": string(),
            "host": string(pattern=DNS_NAME),
            "tlsSecretName": string(minLength=1),
            "clientCaSecret": string("<namespace>/<secret> with ca.crt of the partners' client certificates",
                                     pattern=r"^[a-z0-9-]+/[a-z0-9.-]+$"),
            "verifyDepth": integer(minimum=1),
            "annotations": LABELS,
        }),
        "bridgeIngress": obj({
            "enabled": boolean(),
            "className": string(),
            "host": string(pattern=DNS_NAME),
            "tlsSecretName": string(minLength=1),
            "annotations": LABELS,
        }, description="the BPJS-compatible REST bridge for hospital software (/antreanrs, /vclaim-rest)"),
        "migrations": obj({
            "enabled": boolean(),
            "backoffLimit": integer(minimum=0),
            "activeDeadlineSeconds": integer(minimum=1),
            "ttlSecondsAfterFinished": integer(minimum=0),
            "resources": resources_schema(),
        }),
        "serviceMonitor": obj({
            "enabled": boolean(),
            "interval": string(pattern=r"^[0-9]+(ms|s|m|h)$"),
            "scrapeTimeout": string(pattern=r"^[0-9]+(ms|s|m|h)$"),
            "labels": LABELS,
        }),
        "prometheusRule": obj({
            "enabled": boolean(),
            "labels": LABELS,
            "runbookBaseUrl": string("where docs/runbooks/ is browsable", pattern=r"^https?://"),
        }),
        "dashboards": obj({"enabled": boolean(), "labels": LABELS, "annotations": LABELS}),
        "tests": obj({"enabled": boolean(), "resources": resources_schema()}),
    }
    roots = {f"{K8S}{name}" for name in ("ResourceRequirements", "PodSecurityContext", "SecurityContext",
                                          "Toleration", "Affinity", "TopologySpreadConstraint",
                                          "LocalObjectReference")}
    roots |= {"io.k8s.api.networking.v1.NetworkPolicyPeer", "io.k8s.api.networking.v1.NetworkPolicyEgressRule"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Values of the jkn chart",
        **obj(properties, required=("platform", "image", "postgres", "services")),
        "$defs": kubernetes_defs(roots),
    }
