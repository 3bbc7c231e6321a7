"""What every source adapter needs: strict JSON, payload validation that names
each field at fault, vendor times, and evidence references."""

from __future__ import annotations

import json
import mimetypes
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, NoReturn, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from detection.domain.commands import EvidenceInput
from detection.domain.problems import FieldProblem, InvalidReportError, refuse

M = TypeVar("M", bound=BaseModel)

# A JSON document nested deeper than this is not a report (and would cost a recursion).
MAX_JSON_DEPTH = 32


class MalformedPayloadError(Exception):
    """The bytes are not the format the endpoint speaks (bad JSON or XML): 400."""


class Strict(BaseModel):
    """Our own formats: exact types, and an unknown field is an error, so a
    misspelt optional field is reported instead of silently lost."""

    model_config = ConfigDict(strict=True, extra="forbid")


class Lenient(BaseModel):
    """Vendor formats: vendors add fields with every firmware, so unknown ones are
    ignored; the fields we read are still checked (numbers may come as strings)."""

    model_config = ConfigDict(extra="ignore")


def loads_json(raw: bytes) -> Any:
    """Parse JSON, refusing NaN/Infinity (not JSON) and absurd nesting."""
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise MalformedPayloadError(f"malformed JSON: {exc}") from exc
    if _depth(data) > MAX_JSON_DEPTH:
        raise MalformedPayloadError(f"malformed JSON: nested deeper than {MAX_JSON_DEPTH}")
    return data


def validate(model: type[M], data: Any, at: str = "") -> M:
    """`data` as `model`, or InvalidReportError naming every field at fault."""
    if not isinstance(data, dict):
        raise refuse(at, "must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidReportError(problems_of(exc, at)) from None


def problems_of(exc: ValidationError, at: str = "") -> list[FieldProblem]:
    prefix = f"{at}." if at else ""
    return [
        FieldProblem(prefix + ".".join(str(p) for p in e["loc"]), e["msg"])
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def vendor_time(value: str, utc_offset: str, field: str) -> str:
    """An ISO 8601 time; one written without a zone is read in the vendor's
    configured offset (devices keep local time), so the domain always gets a zone."""
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise refuse(field, f"not an ISO 8601 date-time: {value[:64]!r}") from None
    if when.utcoffset() is None:
        sign = -1 if utc_offset.startswith("-") else 1
        hours, minutes = int(utc_offset[1:3]), int(utc_offset[4:6])
        when = when.replace(tzinfo=timezone(sign * timedelta(hours=hours, minutes=minutes)))
    return when.isoformat()


def epoch_ms_time(value: int, field: str) -> str:
    """Epoch milliseconds (DJI, many IoT devices) as an ISO 8601 UTC time."""
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        raise refuse(field, f"{value} is not a time in epoch milliseconds") from None


def picture(uri: str, *, sha256: str | None = None, size: int | None = None) -> EvidenceInput:
    """Evidence for an image or clip a device holds; its media type from the name."""
    guessed = mimetypes.guess_type(uri.split("?", 1)[0])[0]
    return EvidenceInput(uri, sha256, guessed or "image/jpeg", size)


def _depth(node: Any, level: int = 0) -> int:
    if level > MAX_JSON_DEPTH:
        return level
    if isinstance(node, dict):
        return max((_depth(v, level + 1) for v in node.values()), default=level + 1)
    if isinstance(node, list):
        return max((_depth(v, level + 1) for v in node), default=level + 1)
    return level


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")
