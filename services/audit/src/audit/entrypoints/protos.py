"""Domain objects → audit's protos (and request protos → domain values)."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from audit.domain.evaluation import Evaluation, GroupBy, Period
from audit.domain.model import LedgerEntry
from audit.domain.tree_head import ALGORITHM, TreeHead
from cityops.audit.v1 import evaluation_pb2, ledger_pb2, merkle_pb2
from svckit.errors import InvalidArgumentError

GROUP_BY = {
    evaluation_pb2.EVALUATION_GROUP_BY_DEPARTMENT: GroupBy.DEPARTMENT,
    evaluation_pb2.EVALUATION_GROUP_BY_DISTRICT: GroupBy.DISTRICT,
}
GROUP_BY_PROTO = {v: k for k, v in GROUP_BY.items()}


def entry_proto(entry: LedgerEntry) -> ledger_pb2.LedgerEntry:
    return ledger_pb2.LedgerEntry(
        sequence=entry.sequence,
        case_id=entry.case_id,
        event_id=entry.event_id,
        event_type=entry.event_type,
        subject=entry.subject,
        producer=entry.producer,
        occurred_at=timestamp(entry.occurred_at),
        recorded_at=timestamp(entry.recorded_at),
        actor_user_id=entry.actor_user_id,
        department_id=entry.department_id,
        summary=entry.summary,
        trace_id=entry.trace_id,
        span_id=entry.span_id,
        payload_sha256=entry.payload_sha256,
        entry_hash=entry.entry_hash,
        previous_hash=entry.previous_hash,
        leaf_hash=entry.leaf_hash,
    )


def head_proto(head: TreeHead | None) -> merkle_pb2.SignedTreeHead | None:
    if head is None:
        return None
    return merkle_pb2.SignedTreeHead(
        tree_size=head.tree_size,
        root_hash=head.root_hash,
        timestamp_ms=head.timestamp_ms,
        signed_at=timestamp(head.signed_at),
        key_id=head.key_id,
        signature=head.signature,
        signature_algorithm=ALGORITHM,
    )


def period(start: Timestamp, end: Timestamp, has_start: bool, has_end: bool) -> Period:
    if not (has_start and has_end):
        raise InvalidArgumentError("period_start and period_end are required")
    return Period(start.ToDatetime(tzinfo=UTC), end.ToDatetime(tzinfo=UTC))


def group_by(value: int) -> GroupBy | None:
    return GROUP_BY.get(value)  # type: ignore[call-overload]


def report_proto(
    e: Evaluation, tree_size: int, root_hash: bytes, computed_at: datetime
) -> evaluation_pb2.EvaluationReport:
    return evaluation_pb2.EvaluationReport(
        period_start=timestamp(e.period.start),
        period_end=timestamp(e.period.end),
        group_by=GROUP_BY_PROTO[e.group_by],
        formula_version=e.formula_version,
        formula_text=e.formula_text,
        ledger_tree_size=tree_size,
        ledger_root_hash=root_hash,
        computed_at=timestamp(computed_at),
        rows=[
            evaluation_pb2.EvaluationRow(
                group_key=row.group_key,
                figures=[
                    evaluation_pb2.EvaluationFigure(
                        code=f.code,
                        name_zh=f.name_zh,
                        value=f.value,
                        defined=f.defined,
                        numerator=f.numerator,
                        denominator=f.denominator,
                        case_ids=f.case_ids,
                    )
                    for f in row.figures
                ],
            )
            for row in e.rows
        ],
        excluded=[
            evaluation_pb2.ExcludedCase(case_id=case_id, reason=reason)
            for case_id, reason in e.excluded
        ],
    )


def timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp
