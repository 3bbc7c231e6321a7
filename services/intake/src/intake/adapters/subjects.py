"""The subjects intake publishes on (all on its own INTAKE stream).

CASE_FILED is svckit's; the rest are built here with svckit's naming helper
until svckit.messaging.subjects lists them beside it.
"""

from __future__ import annotations

from svckit.messaging.subjects import CASE_FILED, subject

__all__ = [
    "CASE_CORROBORATED",
    "CASE_FILED",
    "CASE_MERGED",
    "CASE_RECLASSIFIED",
    "CASE_REJECTED",
    "CASE_URGENCY_CHANGED",
    "DETECTION_DISCARDED",
]

DETECTION_DISCARDED = subject("intake", "detection", "discarded")
CASE_CORROBORATED = subject("intake", "case", "corroborated")
CASE_REJECTED = subject("intake", "case", "rejected")
CASE_MERGED = subject("intake", "case", "merged")
CASE_RECLASSIFIED = subject("intake", "case", "reclassified")
CASE_URGENCY_CHANGED = subject("intake", "case", "urgency_changed")
