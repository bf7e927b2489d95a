"""The bridge's business metrics (RED per route are the kit's ``http_requests_total``)."""

from __future__ import annotations

from prometheus_client import Counter

ANSWERS = Counter("bridge_answers_total",
                  "BPJS answers of the bridge (200, 201, 208, 401 …), by route template and metadata code.",
                  ["route", "code"])
