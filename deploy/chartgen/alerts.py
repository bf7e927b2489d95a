"""The Prometheus rules: SLO recordings, and alerts with a runbook each (docs/runbooks/<alert>.md).

Scrape jobs are named ``jkn-<service>`` (the chart's ServiceMonitors set that; a plain
Prometheus must name its jobs the same). SLOs, over 30 days:
- availability: 99.9 % of the gateway's API requests answer without a 5xx;
- latency: 99 % of the gateway's API requests answer within 0.5 s;
- gRPC: 99.9 % of each service's calls end without a server-side error code.
Burn-rate alerts follow the multi-window, multi-burn-rate recipe of Google's SRE workbook: a
page when the budget burns 14.4x (1 h, confirmed over 5 min) or 6x (6 h / 30 min), a ticket
at 3x (1 d / 2 h) or 1x (3 d / 6 h).
"""

from __future__ import annotations

from typing import Any

RUNBOOK_BASE = "https://git.example.id/jkn/platform/blob/main/docs/runbooks"

#: Every service's scrape job (the BPJS bridge too: hospitals' SIMRS depend on it; notify-worker is notify's
#: delivery worker, which exports the delivery, outbox-relay and consumer series).
SERVICES = ("auth", "notify", "notify-worker", "membership", "queue", "gateway", "bridge")
JOBS = f"jkn-({'|'.join(SERVICES)})"
API_ROUTES = 'route!~"/healthz|/readyz|/metrics|unmatched"'
SERVER_FAULTS = 'grpc_code=~"UNKNOWN|INTERNAL|UNAVAILABLE|DATA_LOSS|DEADLINE_EXCEEDED"'
GRPC_APP = 'grpc_service!~"grpc\\\\.health\\\\..*|grpc\\\\.reflection\\\\..*"'

GRPC_BY = "sum by (namespace, job, grpc_service)"

WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
AVAILABILITY_BUDGET = 0.001  # 99.9 %
LATENCY_BUDGET = 0.01        # 99 % within LATENCY_THRESHOLD_S
LATENCY_THRESHOLD_S = "0.5"  # a bucket boundary of services.kit.metrics.LATENCY_BUCKETS

Windows = list[tuple[str, str, float]]
#: (severity, [(long window, short window, burn factor)], for)
BURN_ALERTS: tuple[tuple[str, Windows, str], ...] = (
    ("critical", [("1h", "5m", 14.4), ("6h", "30m", 6)], "2m"),
    ("warning", [("1d", "2h", 3), ("3d", "6h", 1)], "15m"),
)

Rule = dict[str, Any]


def _recordings() -> list[Rule]:
    rules = []
    for window in WINDOWS:
        rules += [
            {"record": f"jkn:http_error_ratio:rate{window}",
             "expr": f'sum by (namespace, job) (rate(http_requests_total{{{API_ROUTES}, status=~"5.."}}[{window}]))\n'
                     f"/\nsum by (namespace, job) (rate(http_requests_total{{{API_ROUTES}}}[{window}]))"},
            {"record": f"jkn:http_slow_ratio:rate{window}",
             "expr": f"1 - (\n  sum by (namespace, job) (rate(http_request_duration_seconds_bucket"
                     f'{{{API_ROUTES}, le="{LATENCY_THRESHOLD_S}"}}[{window}]))\n'
                     f"  /\n  sum by (namespace, job) (rate(http_request_duration_seconds_count"
                     f"{{{API_ROUTES}}}[{window}]))\n)"},
            {"record": f"jkn:grpc_error_ratio:rate{window}",
             "expr": f"{GRPC_BY} (rate(grpc_server_handled_total{{{GRPC_APP}, {SERVER_FAULTS}}}[{window}]))\n/\n"
                     f"{GRPC_BY} (rate(grpc_server_handled_total{{{GRPC_APP}}}[{window}]))"},
        ]
    return rules


def _burn(metric: str, budget: float, windows: Windows) -> str:
    parts = [f"(\n  {metric}:rate{long} > ({factor} * {budget})\n"
             f"  and\n  {metric}:rate{short} > ({factor} * {budget})\n)"
             for long, short, factor in windows]
    return "\nor\n".join(parts)


def _burn_alerts(alert: str, metric: str, budget: float, summary: str, description: str) -> list[Rule]:
    return [
        {"alert": alert, "expr": _burn(metric, budget, windows), "for": wait,
         "labels": {"severity": severity, "slo": metric.split(":")[1]},
         "annotations": {"summary": summary, "description": description}}
        for severity, windows, wait in BURN_ALERTS
    ]


def _alert(alert: str, expr: str, wait: str, severity: str, summary: str, description: str) -> Rule:
    return {"alert": alert, "expr": expr, "for": wait, "labels": {"severity": severity},
            "annotations": {"summary": summary, "description": description}}


def _alerts() -> list[Rule]:
    return [
        *_burn_alerts(
            "JknHttpErrorBudgetBurn", "jkn:http_error_ratio", AVAILABILITY_BUDGET,
            "The API is burning its 99.9 % availability budget too fast",
            "{{ $labels.job }}: 5xx responses are eating the 30-day error budget faster than it allows "
            "(see the burn-rate panel of the service overview)."),
        *_burn_alerts(
            "JknHttpLatencyBudgetBurn", "jkn:http_slow_ratio", LATENCY_BUDGET,
            "The API is burning its latency budget (99 % within 0.5 s) too fast",
            "{{ $labels.job }}: too many API requests take longer than 0.5 s."),
        *_burn_alerts(
            "JknGrpcErrorBudgetBurn", "jkn:grpc_error_ratio", AVAILABILITY_BUDGET,
            "{{ $labels.grpc_service }} is burning its 99.9 % availability budget too fast",
            "{{ $labels.job }}: calls to {{ $labels.grpc_service }} end in server-side errors "
            "(INTERNAL, UNAVAILABLE, UNKNOWN, DEADLINE_EXCEEDED, DATA_LOSS)."),
        _alert(
            "JknServiceDown",
            f'sum by (namespace, job) (up{{job=~"{JOBS}"}}) == 0\n'
            + "".join(f'or absent(up{{job="jkn-{name}"}})\n' for name in SERVICES).rstrip("\n"),
            "2m", "critical",
            "{{ $labels.job }} is down: Prometheus reaches none of its pods",
            "No target of {{ $labels.job }} has answered a scrape for 2 minutes (or none exists)."),
        _alert(
            "JknOtpDeliveryFailing",
            'sum by (namespace, channel) (rate(notify_deliveries_total{result="failed"}[15m]))\n/\n'
            'sum by (namespace, channel) (rate(notify_deliveries_total{result=~"delivered|failed"}[15m]))\n> 0.1\n'
            'and\nsum by (namespace, channel) (rate(notify_deliveries_total{result=~"delivered|failed"}[15m])) > 0.01',
            "10m", "critical",
            "{{ $labels.channel }} deliveries are failing ({{ $value | humanizePercentage }})",
            "More than 10 % of {{ $labels.channel }} hand-overs to the provider fail: people do not get "
            "their one-time codes, so they cannot register, verify or reset a password."),
        _alert(
            "JknSmsSendSpike",
            "jkn:otp_sms_sends:rate15m > 3 * jkn:otp_sms_sends:rate1d\nand\njkn:otp_sms_sends:rate15m > 0.5",
            "10m", "warning",
            "SMS one-time codes are going out 3x faster than the day's average (SMS pumping?)",
            "{{ $value | humanize }} SMS codes per second over 15 minutes, more than three times the "
            "last day's rate: check the destinations' prefixes and countries before the budget breaker trips."),
        _alert(
            "JknSmsBudgetBreakerOpen",
            "max by (namespace) (otp_sms_breaker_open) == 1",
            "1m", "critical",
            "The hourly SMS budget is spent: SMS one-time codes are refused",
            "notify's SMS budget breaker is open until the hour ends; new SMS codes are refused "
            "(otp_refusals_total{rule=\"sms_budget\"})."),
        _alert(
            "JknOutboxBacklog",
            "max by (namespace, job) (outbox_backlog_events) > 1000\nor\n"
            "max by (namespace, job) (otp_outbox_backlog_sends) > 1000\nor\n"
            "(\n  max by (namespace, job) (outbox_backlog_events) > 0\n  unless on (namespace, job)\n"
            "  sum by (namespace, job) (rate(outbox_events_published_total[15m])) > 0\n)",
            "15m", "warning",
            "{{ $labels.job }}: {{ $value }} outbox events are waiting for Kafka",
            "The outbox relay of {{ $labels.job }} is behind or stuck: events (SMS requests, payment "
            "notices, booking events, notify's OTP send stream) are kept safely but not delivered."),
        _alert(
            "JknKafkaConsumerLag",
            "sum by (namespace, job, topic, group) (kafka_consumer_lag_messages) > 1000",
            "10m", "warning",
            "{{ $labels.group }} is {{ $value }} messages behind on {{ $labels.topic }}",
            "The consumer group {{ $labels.group }} ({{ $labels.job }}) does not keep up with "
            "{{ $labels.topic }}: notifications and follow-ups arrive late."),
        _alert(
            "JknEventsDeadLettered",
            "sum by (namespace, job, topic, group) (increase(kafka_events_dead_lettered_total[15m])) > 0",
            "1m", "warning",
            "{{ $labels.group }} dead-lettered events of {{ $labels.topic }}",
            "Events failed every retry and went to {{ $labels.topic }}.dlq; they are not handled until "
            "someone replays them."),
    ]


def rule_file() -> dict[str, Any]:
    # codes issued plus codes resent; a namespace without any resend yet still counts its issues
    issued = 'sum by (namespace) (rate(otp_codes_issued_total{{channel="sms"}}[{w}]))'
    resent = 'sum by (namespace) (rate(otp_codes_resent_total{{channel="sms"}}[{w}]))'
    sms_sends = f"{issued}\n+\n(\n  {resent}\n  or\n  0 * {issued}\n)"
    alerts = _alerts()
    for rule in alerts:
        rule["annotations"]["runbook_url"] = f"{RUNBOOK_BASE}/{rule['alert']}.md"
    return {"groups": [
        {"name": "jkn-slo.rules", "interval": "30s", "rules": _recordings()},
        {"name": "jkn-otp.rules", "rules": [
            {"record": f"jkn:otp_sms_sends:rate{w}", "expr": sms_sends.format(w=w)} for w in ("15m", "1d")]},
        {"name": "jkn.alerts", "rules": alerts},
    ]}


def alert_names() -> list[str]:
    return sorted({rule["alert"] for rule in _alerts()})
