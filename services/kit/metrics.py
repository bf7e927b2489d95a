"""Prometheus metrics: RED per RPC and per HTTP route, the outbox and Kafka consumers, and
the /metrics endpoint. Services add their business metrics in their own ``metrics`` module.

Labels name services, methods, routes, topics, groups and outcomes only: never personal
data, never ids of people. Names follow Prometheus conventions: counters end in
``_total``, durations are ``_seconds``, fractions ``_ratio``, and other units are spelled
out (``_messages``, ``_events``, ``_idr``).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

RPC_HANDLED = Counter(
    "grpc_server_handled_total", "gRPC calls completed by the server, by method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
RPC_LATENCY = Histogram(
    "grpc_server_handling_seconds", "Time the server took to answer a gRPC call.",
    ["grpc_service", "grpc_method"], buckets=LATENCY_BUCKETS,
)
RPC_IN_FLIGHT = Gauge("grpc_server_in_flight", "gRPC calls being handled now.", ["grpc_service"])

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered by the gateway, by route template and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds", "Time the gateway took to answer, by route template.",
    ["method", "route"], buckets=LATENCY_BUCKETS,
)

OUTBOX_PUBLISHED = Counter("outbox_events_published_total", "Outbox events relayed to Kafka.", ["topic"])
OUTBOX_BACKLOG = Gauge("outbox_backlog_events", "Outbox events not yet relayed to Kafka.")
EVENTS_CONSUMED = Counter(
    "kafka_events_consumed_total", "Kafka events handled by consumers, by result.",
    ["topic", "group", "result"],
)
EVENTS_DEAD_LETTERED = Counter("kafka_events_dead_lettered_total", "Events sent to a dead-letter topic.",
                               ["topic", "group"])
EVENT_HANDLING = Histogram(
    "kafka_event_handling_seconds", "Time a consumer took over one event, retries included.",
    ["topic", "group"], buckets=LATENCY_BUCKETS,
)
CONSUMER_LAG = Gauge(
    "kafka_consumer_lag_messages",
    "Messages waiting for a consumer group: log-end offset minus the group's committed offset, over the "
    "partitions assigned to this instance (sum over instances for the group's lag).",
    ["topic", "group"],
)


def serve_metrics(port: int, host: str = "0.0.0.0") -> int:
    """Serve /metrics on ``port`` (0: a free one) in a background thread; return the port."""
    server, _thread = start_http_server(port, addr=host)
    return server.server_port
