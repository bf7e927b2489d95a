"""`helm test`: every gRPC service answers its health check SERVING and the gateway's /readyz is 200.

Run as ``python -c "<this file>"`` in the gateway image; the addresses come from the same
``JKN_<SERVICE>_ADDR`` variables the services use, the gateway's from ``JKN_TEST_GATEWAY_URL``.
Exits 1 and names every failing check.
"""

import os
import sys
import urllib.error
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

failures = []
for name in ("auth", "notify", "membership", "queue"):
    address = os.environ[f"JKN_{name.upper()}_ADDR"]
    try:
        with grpc.insecure_channel(address) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    except grpc.RpcError as error:
        status = error.code().name
    if status != "SERVING":
        failures.append(f"{name} ({address}): {status}")
    sys.stdout.write(f"{name:<10} {address:<40} {status}\n")

url = os.environ["JKN_TEST_GATEWAY_URL"].rstrip("/") + "/readyz"
try:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own http URL
        gateway = f"HTTP {response.status}"
except urllib.error.HTTPError as error:
    gateway = f"HTTP {error.code}"
except OSError as error:
    gateway = f"unreachable: {error}"
if gateway != "HTTP 200":
    failures.append(f"gateway ({url}): {gateway}")
sys.stdout.write(f"{'gateway':<10} {url:<40} {gateway}\n")

if failures:
    sys.stdout.write("not healthy: " + "; ".join(failures) + "\n")
    sys.exit(1)
sys.stdout.write("every service is healthy\n")
