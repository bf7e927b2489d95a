"""Notify's business metrics. Labels are channels, purposes, rules, providers and results
only — never a destination, a code or anything else about a person."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

OTP_ISSUED = Counter("otp_codes_issued_total", "Verifications created and their first code queued.",
                     ["channel", "purpose"])
OTP_RESENT = Counter("otp_codes_resent_total", "Codes sent again for a pending verification.", ["channel"])
OTP_CHECKED = Counter("otp_codes_checked_total", "Code checks, by result.", ["purpose", "result"])
OTP_REFUSED = Counter("otp_refusals_total", "Sends refused by a limit, by rule.", ["rule"])
SMS_BREAKER_OPEN = Gauge("otp_sms_breaker_open", "1 while the hourly SMS budget is spent and SMS are refused.")
DELIVERIES = Counter("notify_deliveries_total", "Messages handed to a provider, by channel, provider and result.",
                     ["channel", "provider", "result"])
DELIVERY_LATENCY = Histogram("notify_delivery_seconds", "From the request to the provider's acceptance.",
                             ["channel"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60))
OTP_OUTBOX_BACKLOG = Gauge("otp_outbox_backlog_sends", "OTP send requests queued in Redis, not yet relayed to Kafka.")
OTP_DELIVERY_STATUS = Counter("otp_delivery_status_total",
                              "Sends of one-time codes reaching a delivery status, by channel, provider and status.",
                              ["channel", "provider", "status"])
OTP_FALLBACKS = Counter("otp_fallbacks_total", "Codes sent again on another channel (e.g. sms → email).",
                        ["from_channel", "to_channel"])
