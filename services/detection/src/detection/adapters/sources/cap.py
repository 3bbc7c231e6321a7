"""OASIS CAP 1.2 alerts → commands.

- Parsed with defusedxml: a DTD (hence any entity, internal or external) is
  refused outright, so no billion-laughs or XXE can reach the parser.
- `status`: Actual is filed; Test, Exercise and System are recorded as
  exercises (stored, never published); Draft is not actionable and refused.
- `msgType`: Alert reports; Update reports and supersedes what its
  `references` name; Cancel withdraws what they name; Ack/Error are refused.
- The first `info` whose `eventCode` ("valueName=value") or `event` the CAP
  map knows gives the 小类; its `area`s give the point and the kept area;
  its `resource`s with a `uri` become evidence, SHA-1 `digest` kept as `sha1`
  (sha256 stays "" until someone pins the file).
- `sent` is the observation time; the sender's own `identifier` is the event id.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

import defusedxml  # type: ignore[import-untyped]  # no stubs published
import defusedxml.ElementTree  # type: ignore[import-untyped]

from detection.adapters.sources.common import MalformedPayloadError
from detection.domain import geometry, rules
from detection.domain.commands import (
    CancelDetections,
    EvidenceInput,
    ReportDetection,
    Skipped,
    SourceMessage,
)
from detection.domain.model import Certainty, Circle, Geocode, ReportedArea
from detection.domain.problems import FieldProblem, InvalidReportError, refuse
from detection.domain.vendors import CodeRule, VendorMap

NS = "urn:oasis:names:tc:emergency:cap:1.2"
_Q = {"cap": NS}
EXERCISE_STATUSES = {"Test", "Exercise", "System"}
MAX_DESCRIPTION = 2000


def parse(raw: bytes, cap: VendorMap, raw_payload_sha256: str) -> SourceMessage:
    """The commands one CAP alert asks for."""
    alert = _root(raw)
    problems: list[FieldProblem] = []
    fields = {name: _required(alert, name, problems) for name in _HEADER}
    if problems:
        raise InvalidReportError(problems)
    status, msg_type = fields["status"], fields["msgType"]
    if status == "Draft":
        raise refuse("status", "a Draft alert is not actionable")
    if status != "Actual" and status not in EXERCISE_STATUSES:
        raise refuse("status", f"unknown CAP status {status[:32]!r}")
    if msg_type not in ("Alert", "Update", "Cancel"):
        raise refuse("msgType", f"{msg_type[:32]!r} carries no detection (Alert, Update, Cancel)")
    source_id = rules.source_id_from("cap", fields["sender"])
    references = _references(_text(alert, "cap:references"), msg_type)
    exercise = status != "Actual"
    if msg_type == "Cancel":
        note = _text(alert, "cap:note") or "cancelled by the sender (CAP Cancel)"
        return SourceMessage(
            cancel=CancelDetections(
                source_id, fields["identifier"], references, note, fields["sent"], exercise
            )
        )
    identity = _Identity(
        source_id=source_id,
        event_id=fields["identifier"],
        sent=fields["sent"],
        raw_payload_sha256=raw_payload_sha256,
        supersedes=references if msg_type == "Update" else (),
        exercise=exercise,
    )
    return _report(*_mapped_info(alert, cap), cap, identity)


_HEADER = ("identifier", "sender", "sent", "status", "msgType")


@dataclass(frozen=True)
class _Identity:
    """What the alert's header says about every report it makes."""

    source_id: str
    event_id: str
    sent: str
    raw_payload_sha256: str
    supersedes: tuple[str, ...]
    exercise: bool


def _root(raw: bytes) -> Element:
    try:
        root = defusedxml.ElementTree.fromstring(
            raw, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DefusedXmlException as exc:
        raise MalformedPayloadError(f"XML refused: {type(exc).__name__}") from exc
    except (ParseError, ValueError, UnicodeError) as exc:
        raise MalformedPayloadError(f"malformed XML: {exc}") from exc
    if root.tag != f"{{{NS}}}alert":
        raise refuse("alert", f"the root must be a CAP 1.2 <alert> in namespace {NS}")
    return root


def _text(parent: Element, path: str) -> str:
    found = parent.find(path, _Q)
    return (found.text or "").strip() if found is not None else ""


def _required(parent: Element, name: str, problems: list[FieldProblem]) -> str:
    value = _text(parent, f"cap:{name}")
    if not value:
        problems.append(FieldProblem(name, "is required"))
    return value


def _references(text: str, msg_type: str) -> tuple[str, ...]:
    """`references` ("sender,identifier,sent" triples) as idempotency keys."""
    keys = []
    for triple in text.split():
        parts = triple.split(",")
        if len(parts) != 3 or not parts[0] or not parts[1]:
            raise refuse("references", f"{triple[:80]!r} is not 'sender,identifier,sent'")
        keys.append(f"{rules.source_id_from('cap', parts[0])}:{parts[1]}")
    if msg_type in ("Update", "Cancel") and not keys:
        raise refuse("references", f"a {msg_type} must reference the alert it changes")
    return tuple(keys)


def _mapped_info(alert: Element, cap: VendorMap) -> tuple[Element, str, CodeRule]:
    infos = alert.findall("cap:info", _Q)
    if not infos:
        raise refuse("info", "an Alert or Update needs at least one <info>")
    for info in infos:
        codes = [
            f"{_text(ec, 'cap:valueName')}={_text(ec, 'cap:value')}"
            for ec in info.findall("cap:eventCode", _Q)
        ]
        found = cap.find_rule([*codes, _text(info, "cap:event")])
        if found is not None:
            return info, found[0], found[1]
    events = sorted({_text(i, "cap:event")[:64] for i in infos})
    raise refuse("info.event", f"no eventCode or event of this alert is mapped: {events}")


def _report(
    info: Element, code: str, rule: CodeRule, cap: VendorMap, identity: _Identity
) -> SourceMessage:
    problems: list[FieldProblem] = []
    words = {n: _required(info, n, problems) for n in ("urgency", "severity", "certainty")}
    area, point = _area(info, cap, problems)
    evidence = _evidence(info, problems)
    if problems or point is None:
        raise InvalidReportError(problems)
    certainty = _certainty(words["certainty"])
    confidence = cap.certainty_confidence.get(certainty, cap.confidence) if certainty else 0.0
    if confidence < cap.threshold(rule):
        reason = f"confidence {confidence:g} is below {cap.threshold(rule):g}"
        return SourceMessage(skipped=(Skipped("info.certainty", reason),))
    headline, text = _text(info, "cap:headline"), _text(info, "cap:description")
    categories = ",".join(_text_of(c) for c in info.findall("cap:category", _Q))
    description = "\n".join(p for p in (headline, text) if p)
    report = ReportDetection(
        source_id=identity.source_id,
        source_event_id=identity.event_id,
        source_kind=(rule.source_kind or cap.source_kind).value,
        category_code=rule.category,
        latitude=point[0],
        longitude=point[1],
        observed_at=identity.sent,
        confidence=confidence,
        raw_payload_sha256=identity.raw_payload_sha256,
        vendor=cap.vendor,
        description=description[:MAX_DESCRIPTION],
        model_name=f"CAP {categories}" if categories else "",
        urgency=words["urgency"],
        severity=words["severity"],
        certainty=words["certainty"],
        evidence=evidence,
        source_code=code,
        area=area,
        supersedes=identity.supersedes,
        exercise=identity.exercise,
    )
    return SourceMessage(reports=(report,))


def _certainty(word: str) -> Certainty | None:
    try:
        return rules.parse_cap(Certainty, word)
    except ValueError:
        return None  # refused by the rules with the allowed words


def _area(
    info: Element, cap: VendorMap, problems: list[FieldProblem]
) -> tuple[ReportedArea | None, tuple[float, float] | None]:
    areas = info.findall("cap:area", _Q)
    if not areas:
        problems.append(FieldProblem("info.area", "is required to locate the alert"))
        return None, None
    polygons: list[tuple[tuple[float, float], ...]] = []
    circles: list[Circle] = []
    geocodes: list[Geocode] = []
    names: list[str] = []
    for i, area in enumerate(areas):
        names.append(_text(area, "cap:areaDesc"))
        for j, p in enumerate(area.findall("cap:polygon", _Q)):
            try:
                polygons.append(geometry.parse_polygon(_text_of(p)))
            except ValueError as exc:
                problems.append(FieldProblem(f"area.{i}.polygon.{j}", str(exc)))
        for j, c in enumerate(area.findall("cap:circle", _Q)):
            try:
                circles.append(geometry.parse_circle(_text_of(c)))
            except ValueError as exc:
                problems.append(FieldProblem(f"area.{i}.circle.{j}", str(exc)))
        geocodes += [
            Geocode(_text(g, "cap:valueName"), _text(g, "cap:value"))
            for g in area.findall("cap:geocode", _Q)
        ]
    reported = ReportedArea(
        description="; ".join(n for n in names if n)[: geometry.MAX_AREA_TEXT],
        polygons=tuple(polygons),
        circles=tuple(circles),
        geocodes=tuple(geocodes),
    )
    point = geometry.representative_point(reported)
    if point is None:
        known = [cap.geocodes.get(f"{g.value_name}={g.value}") for g in geocodes]
        located = next((p for p in known if p is not None), None)
        point = (located.latitude, located.longitude) if located else None
    if point is None and not problems:
        problems.append(
            FieldProblem("info.area", "has no polygon, no circle and no geocode known here")
        )
    return reported, point


def _evidence(info: Element, problems: list[FieldProblem]) -> tuple[EvidenceInput, ...]:
    items = []
    for i, resource in enumerate(info.findall("cap:resource", _Q)):
        uri = _text(resource, "cap:uri")
        if not uri:
            continue  # inline <derefUri> content is not kept: evidence is referenced
        size_text = _text(resource, "cap:size")
        size = int(size_text) if size_text.isdigit() and len(size_text) < 19 else None
        if size_text and size is None:
            problems.append(FieldProblem(f"resource.{i}.size", "must be a byte count"))
        items.append(
            EvidenceInput(
                uri=uri,
                sha256=None,
                media_type=_text(resource, "cap:mimeType") or "application/octet-stream",
                size_bytes=size,
                sha1=_text(resource, "cap:digest"),
            )
        )
    return tuple(items)


def _text_of(element: Element) -> str:
    return (element.text or "").strip()
