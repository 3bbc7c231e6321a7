"""CloudEvents 1.0 over HTTP → reports.

One event type is accepted, `org.cityops.detection.v1`, whose `data` is a JSON
object of the `CloudEventData` shape. The event's `source` (a URI-reference)
becomes the source id `ce/<source>` (':' escaped) and its `id` the event id, so
the same event delivered twice is one detection. Modes:

- structured: the body is the event (`application/cloudevents+json`);
- batch: the body is a JSON array of events (`application/cloudevents-batch+json`),
  each accepted or refused on its own, all stored in one transaction;
- binary: attributes in `ce-*` headers, the body is `data` (`application/json`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from detection.adapters.sources.common import validate
from detection.adapters.sources.schemas import CloudEventData
from detection.domain import rules
from detection.domain.commands import ReportDetection
from detection.domain.problems import FieldProblem, InvalidReportError, refuse

EVENT_TYPE = "org.cityops.detection.v1"
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
MAX_BATCH = 500
_REQUIRED = ("specversion", "id", "source", "type")
_ATTRIBUTE_NAME = re.compile(r"^[a-z0-9]{1,20}$")
_JSON_TYPE = re.compile(r"^application/(?:[\w.+-]+\+)?json$")


def media_type(content_type: str | None) -> str:
    """The media type without parameters, lowercased ("" if none)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def from_structured(event: Any, raw_payload_sha256: str, at: str = "") -> ReportDetection:
    """A structured-mode event (a JSON object holding attributes and `data`)."""
    if not isinstance(event, dict):
        raise refuse(at, "an event must be a JSON object")
    if "data_base64" in event:
        raise refuse(_at(at, "data_base64"), f"{EVENT_TYPE} carries JSON data, not base64")
    attributes = {k: v for k, v in event.items() if k != "data"}
    return _report(attributes, event.get("data"), raw_payload_sha256, at)


def from_binary(headers: Mapping[str, str], data: Any, raw_payload_sha256: str) -> ReportDetection:
    """A binary-mode event: `ce-*` headers and the body as its data."""
    attributes: dict[str, Any] = {
        name.lower().removeprefix("ce-"): value
        for name, value in headers.items()
        if name.lower().startswith("ce-")
    }
    return _report(attributes, data, raw_payload_sha256, "")


def batch_items(events: Any) -> list[Any]:
    """The events of a batch body; each is then accepted or refused on its own."""
    if not isinstance(events, list):
        raise refuse("", "a batch must be a JSON array of events")
    if len(events) > MAX_BATCH:
        raise refuse("", f"at most {MAX_BATCH} events per batch")
    return events


def item_sha256(event: Any) -> str:
    """A batch item's provenance hash: of its canonical JSON (sorted keys, no spaces),
    since the item's own bytes are not separable from the batch."""
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _report(
    attributes: Mapping[str, Any], data: Any, raw_payload_sha256: str, at: str
) -> ReportDetection:
    problems: list[FieldProblem] = []
    for name in _REQUIRED:
        value = attributes.get(name)
        if not isinstance(value, str) or not value.strip():
            problems.append(FieldProblem(_at(at, name), "is required (a non-empty string)"))
    for name in attributes:
        if not _ATTRIBUTE_NAME.match(str(name)):
            problems.append(FieldProblem(_at(at, str(name)), "is not a CloudEvents attribute name"))
    if problems:
        raise InvalidReportError(problems)
    if attributes["specversion"] != "1.0":
        raise refuse(_at(at, "specversion"), "must be 1.0")
    if attributes["type"] != EVENT_TYPE:
        raise refuse(_at(at, "type"), f"only {EVENT_TYPE} is accepted")
    content_type = attributes.get("datacontenttype")
    if content_type is not None and not (
        isinstance(content_type, str) and _JSON_TYPE.match(media_type(content_type))
    ):
        raise refuse(_at(at, "datacontenttype"), "must be application/json")
    body = validate(CloudEventData, data, _at(at, "data"))
    observed_at = body.observed_at or attributes.get("time")
    if not isinstance(observed_at, str) or not observed_at:
        raise refuse(_at(at, "time"), "give the event's time or data.observed_at")
    return body.command(
        source_id=rules.source_id_from("ce", attributes["source"]),
        source_event_id=attributes["id"],
        observed_at=observed_at,
        raw_payload_sha256=raw_payload_sha256,
    )


def _at(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
