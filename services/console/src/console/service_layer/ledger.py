"""The auditor's use cases: timelines, independent proof checks, the ledger's
own verification, evaluations and dossiers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from cityops.audit.v1 import audit_service_pb2 as audit_pb
from cityops.audit.v1 import evaluation_pb2
from console.adapters.clients import call
from console.adapters.signatures import ed25519_valid, key_id
from console.domain.access import Permission, Principal
from console.domain.ledger_proof import (
    HASHED_FIELDS,
    ProofCheck,
    canonical_entry,
    leaf_hash,
    root_from_inclusion,
    tree_head_message,
)
from console.service_layer.context import Console, caller, enum_value
from svckit.errors import InvalidArgumentError

TIME_FIELDS = ("occurred_at", "recorded_at")
MAX_PERIOD_DAYS = 400


async def timeline(console: Console, p: Principal, case_id: str) -> list[Any]:
    p.require(Permission.VIEW_LEDGER)
    reply = await call(
        console.clients.audit.GetTimeline,
        audit_pb.GetTimelineRequest(case_id=case_id),
        caller(p),
    )
    return list(reply.entries)


def entry_fields(entry: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {name: getattr(entry, name) for name in HASHED_FIELDS}
    for name in TIME_FIELDS:
        fields[name] = getattr(entry, name).ToDatetime(tzinfo=UTC)
    return fields


async def _public_key(console: Console, p: Principal) -> Any:
    return await call(console.clients.audit.GetPublicKey, audit_pb.GetPublicKeyRequest(), caller(p))


async def check_entry(
    console: Console, p: Principal, sequence: int, key: Any | None = None
) -> ProofCheck:
    """Recompute one entry's leaf, follow its inclusion proof to the signed root,
    and check the tree head's signature with the trusted key."""
    p.require(Permission.VIEW_LEDGER)
    if sequence < 1:
        raise InvalidArgumentError("sequence starts at 1")
    proof = await call(
        console.clients.audit.GetInclusionProof,
        audit_pb.GetInclusionProofRequest(sequence=sequence),
        caller(p),
    )
    key = key or await _public_key(console, p)
    leaf = leaf_hash(canonical_entry(entry_fields(proof.entry)))
    head = proof.tree_head
    root = root_from_inclusion(proof.leaf_index, proof.tree_size, leaf, list(proof.audit_path))
    signed = head.tree_size == proof.tree_size and head.root_hash == proof.root_hash
    trusted_ids = set(console.options.trusted_key_ids) or set(key.trusted_key_ids) or {key.key_id}
    key_ok = key_id(key.public_key) == key.key_id == head.key_id and head.key_id in trusted_ids
    signature_ok = signed and ed25519_valid(
        key.public_key,
        head.signature,
        tree_head_message(head.timestamp_ms, head.tree_size, head.root_hash),
    )
    return ProofCheck(
        sequence=sequence,
        leaf_matches=leaf == proof.leaf_hash
        and leaf.hex() == (proof.entry.leaf_hash or leaf.hex()),
        path_leads_to_root=root is not None and root == proof.root_hash,
        signature_valid=signature_ok,
        key_trusted=key_ok,
        tree_size=proof.tree_size,
        root_hash_hex=proof.root_hash.hex(),
        key_id=head.key_id,
    )


async def check_case(console: Console, p: Principal, case_id: str) -> list[ProofCheck]:
    """Every entry of a case's timeline, checked."""
    entries = await timeline(console, p, case_id)
    key = await _public_key(console, p)
    return list(await asyncio.gather(*(check_entry(console, p, e.sequence, key) for e in entries)))


async def verify_ledger(console: Console, p: Principal) -> Any:
    p.require(Permission.VIEW_LEDGER)
    return await call(console.clients.audit.VerifyLedger, audit_pb.VerifyLedgerRequest(), caller(p))


def _period(start: datetime, end: datetime) -> tuple[Timestamp, Timestamp]:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidArgumentError("period bounds need a UTC offset")
    if end <= start:
        raise InvalidArgumentError("the period must end after it starts")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise InvalidArgumentError(f"a period spans at most {MAX_PERIOD_DAYS} days")
    first, last = Timestamp(), Timestamp()
    first.FromDatetime(start.astimezone(UTC))
    last.FromDatetime(end.astimezone(UTC))
    return first, last


def _group(group_by: str) -> Any:
    return enum_value(
        evaluation_pb2.EvaluationGroupBy,
        f"EVALUATION_GROUP_BY_{group_by.upper()}",
        "group_by (department or district)",
    )


async def evaluate(
    console: Console, p: Principal, start: datetime, end: datetime, group_by: str
) -> Any:
    p.require(Permission.VIEW_EVALUATION)
    first, last = _period(start, end)
    reply = await call(
        console.clients.audit.Evaluate,
        audit_pb.EvaluateRequest(period_start=first, period_end=last, group_by=_group(group_by)),
        caller(p),
    )
    return reply.report


async def export_evaluation(
    console: Console, p: Principal, start: datetime, end: datetime, group_by: str, fmt: str
) -> Any:
    p.require(Permission.VIEW_EVALUATION)
    first, last = _period(start, end)
    return await call(
        console.clients.audit.ExportEvaluation,
        audit_pb.ExportEvaluationRequest(
            period_start=first,
            period_end=last,
            group_by=_group(group_by),
            format=enum_value(
                audit_pb.ExportFormat, f"EXPORT_FORMAT_{fmt.upper()}", "format (csv or xlsx)"
            ),
        ),
        caller(p),
    )


async def dossier(console: Console, p: Principal, case_id: str, fmt: str) -> Any:
    p.require(Permission.VIEW_LEDGER)
    return await call(
        console.clients.audit.GetDossier,
        audit_pb.GetDossierRequest(
            case_id=case_id,
            format=enum_value(
                audit_pb.DossierFormat, f"DOSSIER_FORMAT_{fmt.upper()}", "format (html or json)"
            ),
        ),
        caller(p),
    )
