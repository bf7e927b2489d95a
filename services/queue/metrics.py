"""Queue's business metrics. Labels are facility types, results, actors and task ids only —
never a facility's patient, a NOKA, a booking code or a schedule id."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

BOOKINGS = Counter("queue_bookings_total", "Booking attempts, by facility type and result "
                   "(created, replayed, quota_full, duplicate, refused).", ["facility_type", "result"])
QUOTA_FILL = Histogram("queue_quota_fill_ratio", "Share of a schedule's JKN quota taken, observed at each booking.",
                       ["facility_type"], buckets=(0.1, 0.25, 0.5, 0.75, 0.9, 1.0))
CANCELLATIONS = Counter("queue_booking_cancellations_total", "Bookings cancelled or lapsed, by who ended them "
                        "(participant, facility, no_show).", ["by"])
CHECK_INS = Counter("queue_check_ins_total", "Patients checked in by their facility.")
TASKS = Counter("queue_tasks_recorded_total", "Task times recorded by facilities, by task id.", ["task"])
TASK_WAIT = Histogram("queue_task_wait_seconds", "Time from the previous task (or check-in) to this task, by task id.",
                      ["task"], buckets=(60, 300, 600, 900, 1800, 3600, 7200, 10800, 14400, 21600))
RESCHEDULES = Counter("queue_reschedules_total", "Bookings moved to another session, by what was moved "
                      "(booked, doctor_absent).", ["moved"])
DISPLACED = Counter("queue_displaced_by_absence_total", "Bookings cancelled because the doctor is absent "
                    "(a session closed by its facility).")
REBOOKED = Counter("queue_absence_rebooked_total", "Bookings cancelled for a doctor's absence that their patient "
                   "moved to another session.")
WAITLIST_JOINS = Counter("queue_waitlist_joins_total", "Entries made on a full session's waitlist, by facility type.",
                         ["facility_type"])
WAITLIST_SEATS = Counter("queue_waitlist_seats_total", "Freed seats and the waitlist, by outcome (auto: booked at "
                         "once; offered; accepted; expired: an offer not accepted in time).", ["outcome"])
WAITLIST_ENDED = Counter("queue_waitlist_ended_total", "Waitlist entries ended without a seat, by reason "
                         "(left, session_closed, date_passed, not_eligible).", ["reason"])
