"""Case and order states as the console shows them: labels (message ids for the
Babel catalogues), colours on the map, and which states are still open.

Labels are English message ids marked with `N_` so `pybabel extract` finds
them; the screens translate them per request (zh-CN by default).
"""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 (the gettext marker's conventional name)
    """Marks a message id for extraction without translating it here."""
    return message


CASE_STATES: dict[str, str] = {
    "CASE_STATE_TRIAGE": N_("Triage"),
    "CASE_STATE_FILED": N_("Filed"),
    "CASE_STATE_UNROUTABLE": N_("Awaiting manual dispatch"),
    "CASE_STATE_DISPATCHED": N_("Dispatched"),
    "CASE_STATE_ACCEPTED": N_("Accepted"),
    "CASE_STATE_IN_PROGRESS": N_("In progress"),
    "CASE_STATE_RETURNED": N_("Returned"),
    "CASE_STATE_COMPLETED": N_("Completed, awaiting verification"),
    "CASE_STATE_REWORK": N_("Rework"),
    "CASE_STATE_VERIFIED": N_("Verified"),
    "CASE_STATE_BACKLOGGED": N_("Backlogged"),
    "CASE_STATE_CLOSED": N_("Closed"),
    "CASE_STATE_REJECTED": N_("Rejected"),
    "CASE_STATE_MERGED": N_("Merged"),
}

# Settled for good: no one acts on these any more.
FINAL_CASE_STATES = frozenset({"CASE_STATE_CLOSED", "CASE_STATE_REJECTED", "CASE_STATE_MERGED"})
OPEN_CASE_STATES = tuple(s for s in CASE_STATES if s not in FINAL_CASE_STATES)
# The operations centre's live queue: what waits for an operator's decision.
QUEUE_CASE_STATES = ("CASE_STATE_TRIAGE", "CASE_STATE_FILED", "CASE_STATE_UNROUTABLE")

# Map colours by state group (colour-blind-safe palette, Okabe–Ito).
STATE_COLOURS: dict[str, str] = {
    "CASE_STATE_TRIAGE": "#E69F00",
    "CASE_STATE_FILED": "#56B4E9",
    "CASE_STATE_UNROUTABLE": "#D55E00",
    "CASE_STATE_DISPATCHED": "#0072B2",
    "CASE_STATE_ACCEPTED": "#0072B2",
    "CASE_STATE_IN_PROGRESS": "#0072B2",
    "CASE_STATE_RETURNED": "#D55E00",
    "CASE_STATE_COMPLETED": "#CC79A7",
    "CASE_STATE_REWORK": "#D55E00",
    "CASE_STATE_VERIFIED": "#009E73",
    "CASE_STATE_BACKLOGGED": "#999999",
    "CASE_STATE_CLOSED": "#009E73",
    "CASE_STATE_REJECTED": "#999999",
    "CASE_STATE_MERGED": "#999999",
}

URGENCIES: dict[str, str] = {
    "URGENCY_IMMEDIATE": N_("Immediate"),
    "URGENCY_EXPECTED": N_("Expected"),
    "URGENCY_FUTURE": N_("Future"),
    "URGENCY_PAST": N_("Past"),
    "URGENCY_UNKNOWN": N_("Unknown urgency"),
}
SETTABLE_URGENCIES = ("URGENCY_IMMEDIATE", "URGENCY_EXPECTED", "URGENCY_FUTURE", "URGENCY_UNKNOWN")
# Marker radius on the map grows with urgency.
URGENCY_WEIGHT: dict[str, int] = {
    "URGENCY_IMMEDIATE": 3,
    "URGENCY_EXPECTED": 2,
    "URGENCY_FUTURE": 1,
}

ORDER_STATES: dict[str, str] = {
    "WORK_ORDER_STATE_CREATED": N_("New order"),
    "WORK_ORDER_STATE_ACCEPTED": N_("Accepted"),
    "WORK_ORDER_STATE_IN_PROGRESS": N_("In progress"),
    "WORK_ORDER_STATE_EXTENSION_REQUESTED": N_("Extension requested"),
    "WORK_ORDER_STATE_REOPENED": N_("Reopened for rework"),
    "WORK_ORDER_STATE_COMPLETED": N_("Completed"),
    "WORK_ORDER_STATE_RETURNED": N_("Returned"),
    "WORK_ORDER_STATE_CANCELLED": N_("Cancelled"),
}
OPEN_ORDER_STATES = (
    "WORK_ORDER_STATE_CREATED",
    "WORK_ORDER_STATE_ACCEPTED",
    "WORK_ORDER_STATE_IN_PROGRESS",
    "WORK_ORDER_STATE_EXTENSION_REQUESTED",
    "WORK_ORDER_STATE_REOPENED",
)

REJECT_REASONS: dict[str, str] = {
    "REJECT_REASON_NOT_IN_SCOPE": N_("Not in scope"),
    "REJECT_REASON_DUPLICATE": N_("Duplicate"),
    "REJECT_REASON_INSUFFICIENT_EVIDENCE": N_("Insufficient evidence"),
    "REJECT_REASON_FALSE_ALARM": N_("False alarm"),
    "REJECT_REASON_OTHER": N_("Other reason"),
}

RETURN_REASONS: dict[str, str] = {
    "RETURN_REASON_OUTSIDE_JURISDICTION": N_("Outside our jurisdiction"),
    "RETURN_REASON_WRONG_CATEGORY": N_("Wrong category"),
    "RETURN_REASON_DUPLICATE": N_("Duplicate"),
    "RETURN_REASON_CANNOT_LOCATE": N_("Cannot locate"),
    "RETURN_REASON_OTHER": N_("Other reason"),
}


def case_state_label(state: str) -> str:
    return CASE_STATES.get(state, N_("Unknown"))


def order_state_label(state: str) -> str:
    return ORDER_STATES.get(state, N_("Unknown"))


ROLE_LABELS: dict[str, str] = {
    "operator": N_("Operator"),
    "supervisor": N_("Supervisor"),
    "department_user": N_("Department user"),
    "inspector": N_("Inspector"),
    "auditor": N_("Auditor"),
    "admin": N_("Administrator"),
}

RISK_LABELS: dict[str, str] = {
    "overdue": N_("Overdue"),
    "at_risk": N_("At risk"),
    "on_track": N_("On track"),
    "no_deadline": N_("No deadline"),
}

EVIDENCE_KINDS: dict[str, str] = {
    "EVIDENCE_KIND_BEFORE_PHOTO": N_("Photo before the work"),
    "EVIDENCE_KIND_AFTER_PHOTO": N_("Photo after the work"),
    "EVIDENCE_KIND_OTHER": N_("Other file"),
    "EVIDENCE_KIND_UNSPECIFIED": N_("Other file"),
}

# Workorders' provenance checks on uploaded evidence (shown, never hidden).
EVIDENCE_FLAGS: dict[str, str] = {
    "capture_time_missing": N_("No capture time in the photo"),
    "capture_location_missing": N_("No GPS position in the photo"),
    "location_mismatch": N_("Taken away from the case's place"),
    "time_outside_window": N_("Taken outside the order's time window"),
    "integrity_mismatch": N_("Content does not match its hash"),
}
