"""The Grafana dashboards, as code: one function per dashboard, panels from a few helpers.

Every query filters on ``namespace=~"$namespace"`` and uses ``$__rate_interval``; the metric
names are the ones the services export (checked against a running stack by tests/deploy).
Dashboards: service overview (RED per route and RPC, SLO burn), OTP funnel and SMS spend,
queue and waiting times, the BPJS bridge (RED by endpoint), data layer (outbox, Kafka consumers).
"""

from __future__ import annotations

from typing import Any

Panel = dict[str, Any]

NS = 'namespace=~"$namespace"'
RATE = "$__rate_interval"
API = f'{NS}, route!~"/healthz|/readyz|/metrics|unmatched"'
APP_RPC = f'{NS}, grpc_service!~"grpc\\\\.health\\\\..*|grpc\\\\.reflection\\\\..*"'


class Layout:
    """Places panels left to right, 24 columns wide, a new line when a row is full."""

    def __init__(self) -> None:
        self.panels: list[Panel] = []
        self.x = self.y = self.row_height = 0

    def row(self, title: str) -> None:
        self._newline()
        self.panels.append({"type": "row", "title": title, "collapsed": False, "panels": [],
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}})
        self.y += 1

    def add(self, panel: Panel, *, w: int = 12, h: int = 8) -> None:
        if self.x + w > 24:
            self._newline()
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.panels.append(panel)
        self.x += w
        self.row_height = max(self.row_height, h)

    def _newline(self) -> None:
        if self.x:
            self.y += self.row_height
        self.x = self.row_height = 0

    def numbered(self) -> list[Panel]:
        for number, panel in enumerate(self.panels, start=1):
            panel["id"] = number
        return self.panels


def target(expr: str, legend: str = "", ref: str = "A") -> dict[str, Any]:
    return {"datasource": {"type": "prometheus", "uid": "${datasource}"}, "expr": expr,
            "legendFormat": legend or "__auto", "refId": ref}


def timeseries(title: str, targets: list[tuple[str, str]], unit: str = "short", *, description: str = "",
               stack: bool = False) -> Panel:
    return {
        "type": "timeseries", "title": title, "description": description,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "targets": [target(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(targets)],
        "fieldConfig": {"defaults": {"unit": unit, "custom": {
            "drawStyle": "line", "lineWidth": 1, "fillOpacity": 10 if not stack else 60,
            "stacking": {"mode": "normal" if stack else "none", "group": "A"}}}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max"]},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
    }


def stat(title: str, expr: str, unit: str = "short", *, description: str = "",
         thresholds: list[tuple[float | None, str]] | None = None, legend: str = "") -> Panel:
    steps = [{"color": color, "value": value} for value, color in (thresholds or [(None, "green")])]
    return {
        "type": "stat", "title": title, "description": description,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "targets": [target(expr, legend)],
        "fieldConfig": {"defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}},
                        "overrides": []},
        "options": {"colorMode": "background", "graphMode": "area", "reduceOptions": {
            "calcs": ["lastNotNull"], "fields": "", "values": False}, "textMode": "auto"},
    }


def text(title: str, content: str) -> Panel:
    return {"type": "text", "title": title, "options": {"mode": "markdown", "content": content}}


def quantiles(metric: str, selector: str, by: str, legend: str) -> list[tuple[str, str]]:
    return [(f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}_bucket{{{selector}}}[{RATE}])))",
             f"p{round(q * 100)} {legend}") for q in (0.5, 0.95, 0.99)]


def dashboard(uid: str, title: str, description: str, layout: Layout, extra_vars: list[dict] | None = None,
              tags: tuple[str, ...] = ()) -> dict[str, Any]:
    variables = [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
         "current": {}, "hide": 0, "refresh": 1},
        {"name": "namespace", "label": "Namespace", "type": "query",
         "datasource": {"type": "prometheus", "uid": "${datasource}"},
         "query": {"query": 'label_values(up{job=~"jkn-.+"}, namespace)', "refId": "namespace"},
         "definition": 'label_values(up{job=~"jkn-.+"}, namespace)',
         "includeAll": True, "allValue": ".*", "multi": True, "current": {}, "hide": 0, "refresh": 2,
         "sort": 1},
        *(extra_vars or []),
    ]
    return {
        "uid": uid, "title": title, "description": description, "tags": ["jkn", *tags],
        "editable": True, "graphTooltip": 1, "timezone": "browser", "schemaVersion": 39, "version": 1,
        "time": {"from": "now-6h", "to": "now"}, "refresh": "1m",
        "templating": {"list": variables}, "annotations": {"list": []}, "links": [],
        "panels": layout.numbered(),
    }


# -- (a) service overview -----------------------------------------------------------------------------

def overview() -> dict[str, Any]:
    g = Layout()
    g.row("Availability")
    g.add(stat("Services up", f'sum by (job) (up{{{NS}, job=~"jkn-.+"}})', legend="{{job}}",
               thresholds=[(None, "red"), (1, "green")], description="Targets answering scrapes, per service."),
          w=8, h=5)
    g.add(stat("API 5xx ratio (1 h)", f'sum(jkn:http_error_ratio:rate1h{{{NS}}})', "percentunit",
               thresholds=[(None, "green"), (0.001, "orange"), (0.0144, "red")],
               description="SLO: 99.9 % of API requests without 5xx."), w=8, h=5)
    g.add(stat("API slower than 0.5 s (1 h)", f'sum(jkn:http_slow_ratio:rate1h{{{NS}}})', "percentunit",
               thresholds=[(None, "green"), (0.01, "orange"), (0.144, "red")],
               description="SLO: 99 % of API requests within 0.5 s."), w=8, h=5)
    g.add(timeseries("Error-budget burn rate", [
        (f"sum(jkn:http_error_ratio:rate1h{{{NS}}}) / 0.001", "availability 1h"),
        (f"sum(jkn:http_error_ratio:rate6h{{{NS}}}) / 0.001", "availability 6h"),
        (f"sum(jkn:http_slow_ratio:rate1h{{{NS}}}) / 0.01", "latency 1h"),
        (f"max by (grpc_service) (jkn:grpc_error_ratio:rate1h{{{NS}}}) / 0.001", "gRPC {{grpc_service}} 1h"),
    ], description="1 = spending the 30-day budget exactly; the page fires at 14.4 (1 h) and 6 (6 h)."), w=24)

    g.row("Gateway (REST API)")
    g.add(timeseries("Requests by route", [
        (f"sum by (method, route) (rate(http_requests_total{{{API}}}[{RATE}]))", "{{method}} {{route}}")],
        "reqps"))
    g.add(timeseries("Responses by status", [
        (f"sum by (status) (rate(http_requests_total{{{API}}}[{RATE}]))", "{{status}}")], "reqps", stack=True))
    g.add(timeseries("5xx ratio by route", [
        (f'sum by (route) (rate(http_requests_total{{{API}, status=~"5.."}}[{RATE}]))\n/\n'
         f"sum by (route) (rate(http_requests_total{{{API}}}[{RATE}]))", "{{route}}")], "percentunit"))
    g.add(timeseries("Latency", quantiles("http_request_duration_seconds", API, "job", "all routes"), "s"))
    g.add(timeseries("p95 latency by route", [
        (f"histogram_quantile(0.95, sum by (le, route) "
         f"(rate(http_request_duration_seconds_bucket{{{API}}}[{RATE}])))", "{{route}}")], "s"), w=24)

    g.row("gRPC services")
    g.add(timeseries("Calls by service", [
        (f"sum by (grpc_service) (rate(grpc_server_handled_total{{{APP_RPC}}}[{RATE}]))", "{{grpc_service}}")],
        "reqps"))
    g.add(timeseries("Non-OK calls by code", [
        (f'sum by (grpc_service, grpc_code) (rate(grpc_server_handled_total{{{APP_RPC}, grpc_code!="OK"}}'
         f"[{RATE}]))", "{{grpc_service}} {{grpc_code}}")], "reqps"))
    g.add(timeseries("Calls by method", [
        (f"sum by (grpc_service, grpc_method) (rate(grpc_server_handled_total{{{APP_RPC}}}[{RATE}]))",
         "{{grpc_service}}/{{grpc_method}}")], "reqps"))
    g.add(timeseries("p95 latency by method", [
        (f"histogram_quantile(0.95, sum by (le, grpc_service, grpc_method) "
         f"(rate(grpc_server_handling_seconds_bucket{{{APP_RPC}}}[{RATE}])))",
         "{{grpc_service}}/{{grpc_method}}")], "s"))
    g.add(timeseries("In-flight calls", [
        (f"sum by (job, grpc_service) (grpc_server_in_flight{{{APP_RPC}}})", "{{job}} {{grpc_service}}")]))
    g.add(timeseries("Premium payments", [
        (f"sum by (result) (rate(membership_payments_total{{{NS}}}[{RATE}]))", "{{result}}"),
        (f"sum(rate(membership_payment_amount_idr_total{{{NS}}}[{RATE}])) * 3600", "rupiah per hour")],
        description="Virtual accounts created, callbacks paid / duplicate / rejected."))
    return dashboard("jkn-overview", "JKN — service overview",
                     "RED per route and RPC, SLO burn, availability of every service.", g, tags=("red", "slo"))


# -- (b) OTP funnel and SMS spend ------------------------------------------------------------------------

def otp() -> dict[str, Any]:
    cost = {"name": "sms_cost_idr", "label": "Rupiah per SMS", "type": "textbox", "query": "350",
            "current": {"text": "350", "value": "350"}, "hide": 0,
            "description": "What one SMS costs at the provider, for the spend panels."}
    sent = f'notify_deliveries_total{{{NS}, channel="sms", result="delivered", provider!="dev_outbox"}}'
    g = Layout()
    g.row("Funnel")
    g.add(timeseries("Codes issued by purpose", [
        (f"sum by (channel, purpose) (rate(otp_codes_issued_total{{{NS}}}[{RATE}]))", "{{channel}} {{purpose}}")],
        "ops"))
    g.add(timeseries("Checks by result", [
        (f"sum by (result) (rate(otp_codes_checked_total{{{NS}}}[{RATE}]))", "{{result}}")], "ops", stack=True))
    g.add(timeseries("Verified share of issued codes (1 h)", [
        (f'sum by (purpose) (increase(otp_codes_checked_total{{{NS}, result="approved"}}[1h]))\n/\n'
         f"sum by (purpose) (increase(otp_codes_issued_total{{{NS}}}[1h]))", "{{purpose}}")], "percentunit",
        description="Approved checks over codes issued in the last hour: the funnel's conversion."))
    g.add(timeseries("Resends and refusals", [
        (f"sum by (channel) (rate(otp_codes_resent_total{{{NS}}}[{RATE}]))", "resent {{channel}}"),
        (f"sum by (rule) (rate(otp_refusals_total{{{NS}}}[{RATE}]))", "refused: {{rule}}")], "ops",
        description="Refusals by rule: cooldown, per-destination caps, per-IP, number prefix (pumping), "
                    "budget breaker, countries not allowed."))
    g.row("Delivery")
    g.add(timeseries("Deliveries by provider and result", [
        (f"sum by (channel, provider, result) (rate(notify_deliveries_total{{{NS}}}[{RATE}]))",
         "{{channel}} {{provider}} {{result}}")], "ops"))
    g.add(timeseries("Failure ratio by channel", [
        (f'sum by (channel) (rate(notify_deliveries_total{{{NS}, result="failed"}}[{RATE}]))\n/\n'
         f'sum by (channel) (rate(notify_deliveries_total{{{NS}, result=~"delivered|failed"}}[{RATE}]))',
         "{{channel}}")], "percentunit"))
    g.add(timeseries("Request to provider acceptance", quantiles(
        "notify_delivery_seconds", NS, "channel", "{{channel}}"), "s"), w=24)
    g.row("Delivery status, fallbacks and recovery")
    g.add(timeseries("Code delivery status by channel and provider", [
        (f"sum by (channel, provider, status) (rate(otp_delivery_status_total{{{NS}}}[{RATE}]))",
         "{{channel}} {{provider}} {{status}}")], "ops",
        description="What providers said about each send of a code: sent (accepted), failed (refused for good, "
                    "reported undeliverable, or out of retries)."))
    g.add(timeseries("Fallbacks to another channel", [
        (f"sum by (from_channel, to_channel) (rate(otp_fallbacks_total{{{NS}}}[{RATE}]))",
         "{{from_channel}} → {{to_channel}}")], "ops",
        description="The same code sent again on another channel (an SMS that failed, then email)."))
    g.add(timeseries("Account recoveries", [
        (f"sum by (step) (increase(auth_account_recoveries_total{{{NS}}}[1h]))", "{{step}}")], "short",
        description="Per hour: started (every start, real or not), scheduled (both codes right), cancelled by "
                    "the holder, applied. Many cancelled against scheduled: someone else holds the emails."), w=24)
    g.row("SMS spend")
    g.add(stat("SMS breaker", f"max(otp_sms_breaker_open{{{NS}}})", thresholds=[(None, "green"), (1, "red")],
               description="1: the hourly SMS budget is spent and SMS codes are refused."), w=6, h=5)
    g.add(stat("SMS sent (range)", f"sum(increase({sent}[$__range]))", description="Over the time range."),
          w=6, h=5)
    g.add(stat("SMS spend (range)", f"sum(increase({sent}[$__range])) * $sms_cost_idr", "currencyIDR"), w=6, h=5)
    g.add(stat("SMS spend, last 24 h", f"sum(increase({sent}[1d])) * $sms_cost_idr", "currencyIDR"), w=6, h=5)
    g.add(timeseries("SMS per hour", [
        (f"sum(rate({sent}[{RATE}])) * 3600", "sent per hour"),
        (f"jkn:otp_sms_sends:rate1d{{{NS}}} * 3600", "day's average (codes)")],
        description="A sudden climb over the day's average is how SMS pumping looks."))
    g.add(timeseries("SMS spend per hour", [(f"sum(rate({sent}[{RATE}])) * 3600 * $sms_cost_idr", "rupiah")],
                     "currencyIDR"))
    return dashboard("jkn-otp", "JKN — OTP funnel and SMS spend",
                     "One-time codes from issue to approval, refusals, delivery, and what SMS cost.", g,
                     extra_vars=[cost], tags=("otp", "notify"))


# -- (c) queue and waiting times ---------------------------------------------------------------------------

def queue() -> dict[str, Any]:
    g = Layout()
    g.row("Bookings")
    g.add(timeseries("Bookings by result", [
        (f"sum by (facility_type, result) (rate(queue_bookings_total{{{NS}}}[{RATE}]))",
         "{{facility_type}} {{result}}")], "ops"))
    g.add(timeseries("Booked share of attempts", [
        (f'sum by (facility_type) (rate(queue_bookings_total{{{NS}, result="created"}}[{RATE}]))\n/\n'
         f"sum by (facility_type) (rate(queue_bookings_total{{{NS}}}[{RATE}]))", "{{facility_type}}")],
        "percentunit"))
    g.add(timeseries("Quota taken at booking (p50 / p90)", [
        (f"histogram_quantile({q}, sum by (le, facility_type) (rate(queue_quota_fill_ratio_bucket{{{NS}}}"
         f"[{RATE}])))", f"p{round(q * 100)} {{{{facility_type}}}}") for q in (0.5, 0.9)], "percentunit",
        description="How full a schedule's JKN quota was when each booking took its seat."))
    g.add(timeseries("Cancellations and check-ins", [
        (f"sum by (by) (rate(queue_booking_cancellations_total{{{NS}}}[{RATE}]))", "cancelled by {{by}}"),
        (f"sum(rate(queue_check_ins_total{{{NS}}}[{RATE}]))", "checked in")], "ops"))
    g.row("Reschedules, waitlists and doctors' absences")
    g.add(timeseries("Waitlist joins and seats given from it", [
        (f"sum by (facility_type) (rate(queue_waitlist_joins_total{{{NS}}}[{RATE}]))", "joined {{facility_type}}"),
        (f"sum by (outcome) (rate(queue_waitlist_seats_total{{{NS}}}[{RATE}]))", "seat {{outcome}}"),
        (f"sum by (reason) (rate(queue_waitlist_ended_total{{{NS}}}[{RATE}]))", "ended {{reason}}")], "ops",
        description="A freed seat goes to the first waiting entry: auto (booked at once), offered (held), then "
                    "accepted or expired (passed on). Entries also end when left, the session closes or the date "
                    "passes."))
    g.add(timeseries("Reschedules and bookings displaced by a doctor's absence", [
        (f"sum by (moved) (rate(queue_reschedules_total{{{NS}}}[{RATE}]))", "moved {{moved}}"),
        (f"sum(rate(queue_displaced_by_absence_total{{{NS}}}[{RATE}]))", "displaced by absence"),
        (f"sum(rate(queue_absence_rebooked_total{{{NS}}}[{RATE}]))", "displaced and rebooked")], "ops",
        description="Displaced: bookings cancelled DOCTOR_ABSENT when a session closed; rebooked: those their "
                    "patient moved with one reschedule."))
    g.row("Visits (task times from the hospitals)")
    g.add(timeseries("Tasks recorded", [
        (f"sum by (task) (rate(queue_tasks_recorded_total{{{NS}}}[{RATE}]))", "task {{task}}")], "ops",
        description="1 admission wait, 2 admission service, 3 poli wait, 4 poli service, 5 pharmacy wait, "
                    "6 pharmacy service, 7 medicine ready, 99 no-show/cancel."))
    g.add(timeseries("Median wait before each task", [
        (f"histogram_quantile(0.5, sum by (le, task) (rate(queue_task_wait_seconds_bucket{{{NS}}}[{RATE}])))",
         "task {{task}}")], "s"))
    g.add(timeseries("p90 wait before each task", [
        (f"histogram_quantile(0.9, sum by (le, task) (rate(queue_task_wait_seconds_bucket{{{NS}}}[{RATE}])))",
         "task {{task}}")], "s"), w=24)
    g.row("Queue service")
    queue_rpc = f'{NS}, grpc_service=~"jkn\\\\.queue\\\\..*"'
    g.add(timeseries("Queue calls by method", [
        (f"sum by (grpc_service, grpc_method) (rate(grpc_server_handled_total{{{queue_rpc}}}[{RATE}]))",
         "{{grpc_method}}")], "reqps"))
    g.add(timeseries("Queue p95 latency by method", [
        (f"histogram_quantile(0.95, sum by (le, grpc_method) "
         f"(rate(grpc_server_handling_seconds_bucket{{{queue_rpc}}}[{RATE}])))", "{{grpc_method}}")], "s"))
    return dashboard("jkn-queue", "JKN — queue and waiting times",
                     "Bookings, quota, cancellations, check-ins, reschedules and waitlists, doctors' absences "
                     "and waiting time before each task.", g,
                     tags=("queue",))


# -- (c2) the BPJS-compatible bridge for hospital software ----------------------------------------------

BRIDGE = f'{NS}, job="jkn-bridge"'
BRIDGE_API = f'{BRIDGE}, route!~"/healthz|/readyz|/metrics|unmatched"'


def bridge() -> dict[str, Any]:
    g = Layout()
    g.row("Availability")
    g.add(stat("Bridge pods up", f"sum(up{{{BRIDGE}}})", thresholds=[(None, "red"), (1, "green")],
               description="Targets of jkn-bridge answering scrapes (JknServiceDown fires at 0 for 2 minutes)."),
          w=8, h=5)
    g.add(stat("Refused share (1 h)", f'sum(rate(bridge_answers_total{{{BRIDGE}, code!~"200|208"}}[1h]))\n/\n'
               f"sum(rate(bridge_answers_total{{{BRIDGE}}}[1h]))", "percentunit",
               thresholds=[(None, "green"), (0.05, "orange"), (0.2, "red")],
               description="Answers whose metadata code is not 200 or 208 (201 refusals, 401, 503)."), w=8, h=5)
    g.add(stat("HTTP 5xx share (1 h)", f'sum(rate(http_requests_total{{{BRIDGE_API}, status=~"5.."}}[1h]))\n/\n'
               f"sum(rate(http_requests_total{{{BRIDGE_API}}}[1h]))", "percentunit",
               thresholds=[(None, "green"), (0.001, "orange"), (0.0144, "red")],
               description="503s while queue or membership is unavailable (the bridge never answers 500)."),
          w=8, h=5)
    g.row("Requests by endpoint")
    g.add(timeseries("Requests by endpoint", [
        (f"sum by (method, route) (rate(http_requests_total{{{BRIDGE_API}}}[{RATE}]))", "{{method}} {{route}}")],
        "reqps", description="Route templates only: the paths' NIKs, NOKAs and booking codes are never labels."))
    g.add(timeseries("Answers by metadata code", [
        (f"sum by (code) (rate(bridge_answers_total{{{BRIDGE}}}[{RATE}]))", "{{code}}")], "reqps", stack=True,
        description="200 ok, 201 refused (Indonesian reason), 208 already recorded, 401 bad signature or "
                    "clock, 503 a dependency unavailable."))
    g.add(timeseries("Errors by endpoint", [
        (f'sum by (route, code) (rate(bridge_answers_total{{{BRIDGE}, code!~"200|208"}}[{RATE}]))',
         "{{route}} {{code}}")], "reqps",
        description="Refusals (201) are often the hospital's data (quota full, no referral); a jump of 401 is a "
                    "hospital's clock or secret, of 503 the platform behind."))
    g.add(timeseries("Refused share by endpoint", [
        (f'sum by (route) (rate(bridge_answers_total{{{BRIDGE}, code!~"200|208"}}[{RATE}]))\n/\n'
         f"sum by (route) (rate(bridge_answers_total{{{BRIDGE}}}[{RATE}]))", "{{route}}")], "percentunit"))
    g.row("Latency")
    g.add(timeseries("Latency", quantiles("http_request_duration_seconds", BRIDGE_API, "job", "all endpoints"),
                     "s"))
    g.add(timeseries("p95 latency by endpoint", [
        (f"histogram_quantile(0.95, sum by (le, route) "
         f"(rate(http_request_duration_seconds_bucket{{{BRIDGE_API}}}[{RATE}])))", "{{route}}")], "s"))
    return dashboard("jkn-bridge", "JKN — BPJS bridge (SIMRS)",
                     "The BPJS-compatible bridge for hospital software: request rate, answers by metadata code, "
                     "errors and latency by endpoint.", g, tags=("bridge", "red"))


# -- (d) data layer --------------------------------------------------------------------------------------

def data() -> dict[str, Any]:
    g = Layout()
    g.row("Transactional outbox")
    g.add(timeseries("Outbox backlog", [(f"max by (job) (outbox_backlog_events{{{NS}}})", "{{job}}")],
                     description="Events written with their transaction and not yet relayed to Kafka "
                                 "(every replica reports the same table: max, not sum)."))
    g.add(timeseries("Events published by topic", [
        (f"sum by (topic) (rate(outbox_events_published_total{{{NS}}}[{RATE}]))", "{{topic}}")], "ops"))
    g.row("Kafka consumers")
    g.add(timeseries("Consumer lag", [
        (f"sum by (topic, group) (kafka_consumer_lag_messages{{{NS}}})", "{{group}} on {{topic}}")],
        description="Log-end offset minus the group's committed offset, summed over the instances."))
    g.add(timeseries("Events consumed by result", [
        (f"sum by (group, result) (rate(kafka_events_consumed_total{{{NS}}}[{RATE}]))", "{{group}} {{result}}")],
        "ops"))
    g.add(timeseries("Dead-lettered events", [
        (f"sum by (topic, group) (increase(kafka_events_dead_lettered_total{{{NS}}}[{RATE}]))",
         "{{group}} {{topic}}")], description="Events that failed every retry (<topic>.dlq)."))
    g.add(timeseries("Handling time (p95)", [
        (f"histogram_quantile(0.95, sum by (le, group) (rate(kafka_event_handling_seconds_bucket{{{NS}}}"
         f"[{RATE}])))", "{{group}}")], "s"))
    g.row("Postgres and Redis")
    g.add(text("Postgres and Redis", (
        "The services do not export Postgres or Redis server metrics themselves. Install "
        "postgres_exporter and redis_exporter next to the managed servers and use their dashboards; "
        "what the services see of them shows here as start-up failures (`up`), 503s on the overview "
        "(DEPENDENCY_UNAVAILABLE) and outbox backlog.")), w=24, h=4)
    return dashboard("jkn-data", "JKN — data layer",
                     "Outbox backlog and relay, Kafka consumer lag, results and dead letters.", g,
                     tags=("kafka", "outbox"))


def all_dashboards() -> dict[str, dict[str, Any]]:
    return {"jkn-overview": overview(), "jkn-otp": otp(), "jkn-queue": queue(), "jkn-bridge": bridge(),
            "jkn-data": data()}
