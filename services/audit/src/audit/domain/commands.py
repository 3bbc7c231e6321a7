"""Requests people make of the audit service, as plain data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VerifyCase:
    """核查: an inspector's verdict on a case reported done."""

    request_id: str
    case_id: str
    passed: bool
    note: str = ""


@dataclass(frozen=True)
class CloseCase:
    """结案: close a case whose verification passed."""

    request_id: str
    case_id: str
    reason_code: str
