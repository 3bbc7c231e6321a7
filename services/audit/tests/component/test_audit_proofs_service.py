"""The ledger as a Merkle log over gRPC: every proof the service hands out is
checked with the independent RFC 6962 verifier (no audit code), each leaf is
recomputed from the entry proto by the documented rule, and tree-head
signatures are checked with `cryptography` directly."""

from __future__ import annotations

import hashlib
import json
import struct

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from cityops.audit.v1 import audit_service_pb2 as api
from cityops.audit.v1 import ledger_pb2, merkle_pb2
from cityops.common.v1 import common_pb2
from cityops.dispatch.v1 import events_pb2 as dispatch_events
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import events_pb2 as intake_events
from cityops.workorders.v1 import events_pb2 as workorder_events
from services.audit.tests.component.conftest import AUDITOR, CASE, Audit, status_of
from services.audit.tests.unit.test_audit_merkle_proofs import (
    rfc_leaf,
    verify_consistency,
    verify_inclusion,
)
from svckit.grpc.identity import Caller
from svckit.messaging import subjects

HASHED = [
    "sequence",
    "case_id",
    "event_id",
    "event_type",
    "subject",
    "producer",
    "occurred_at",
    "recorded_at",
    "actor_user_id",
    "department_id",
    "summary",
    "trace_id",
    "span_id",
    "payload_sha256",
]


def leaf_bytes(e: ledger_pb2.LedgerEntry) -> bytes:
    """The canonical entry, rebuilt from the proto by docs/audit.md's rule."""
    record: dict[str, object] = {}
    for name in HASHED:
        value = getattr(e, name)
        if name in ("occurred_at", "recorded_at"):
            value = value.ToDatetime().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        record[name] = value
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signature_ok(head: merkle_pb2.SignedTreeHead, public_key: bytes) -> bool:
    signed = struct.pack(">BBQQ", 0, 1, head.timestamp_ms, head.tree_size) + head.root_hash
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(head.signature, signed)
    except Exception:
        return False
    return True


async def record_case(audit: Audit) -> None:
    worker = Caller("u-d01", "department_user", "D01-transport").to_actor()
    evidence = common_pb2.EvidenceRef(
        uri="https://evidence.example/after.jpg", sha256="ab" * 32, media_type="image/jpeg"
    )
    story = [
        (
            "intake",
            intake_events.CaseFiled(
                case=case_pb2.Case(case_id=CASE, category_code="E0105", title="路面坑槽")
            ),
            subjects.CASE_FILED,
        ),
        (
            "dispatch",
            dispatch_events.CaseDispatched(case_id=CASE, department_id="D01-transport"),
            subjects.CASE_DISPATCHED,
        ),
        ("dispatch", dispatch_events.CaseDispatched(case_id="C-other"), subjects.CASE_DISPATCHED),
        (
            "workorders",
            workorder_events.WorkOrderProgressed(case_id=CASE, actor=worker, evidence=[evidence]),
            subjects.WORKORDER_PROGRESSED,
        ),
        (
            "workorders",
            workorder_events.WorkOrderCompleted(case_id=CASE, actor=worker, evidence=[evidence]),
            subjects.WORKORDER_COMPLETED,
        ),
        ("dispatch", dispatch_events.CaseDispatched(case_id="C-third"), subjects.CASE_DISPATCHED),
    ]
    for producer, message, subject in story:
        case_id = getattr(message, "case_id", "") or CASE
        await audit.published_then_recorded(producer, message, subject, case_id)


async def test_inclusion_and_consistency_proofs_verify_independently(audit: Audit) -> None:
    await record_case(audit)
    read = AUDITOR.metadata()
    key = await audit.stub.GetPublicKey(api.GetPublicKeyRequest(), metadata=read)
    assert key.key_id == hashlib.sha256(key.public_key).hexdigest()
    pem = load_pem_public_key(key.public_key_pem.encode())
    assert isinstance(pem, Ed25519PublicKey) and key.algorithm == "Ed25519"

    # A head was signed at 4 entries (every 4); entries 5-6 get one on demand.
    first = (
        await audit.stub.GetSignedTreeHead(api.GetSignedTreeHeadRequest(tree_size=4), metadata=read)
    ).tree_head
    assert first.tree_size == 4 and signature_ok(first, key.public_key)
    roots = {}
    for sequence in range(1, 7):
        proof = await audit.stub.GetInclusionProof(
            api.GetInclusionProofRequest(sequence=sequence), metadata=read
        )
        head = proof.tree_head
        assert head.tree_size >= sequence and signature_ok(head, key.public_key)
        leaf = rfc_leaf(leaf_bytes(proof.entry))
        assert leaf == proof.leaf_hash == bytes.fromhex(proof.entry.leaf_hash)
        assert verify_inclusion(
            leaf, sequence - 1, head.tree_size, list(proof.audit_path), head.root_hash
        )
        roots[head.tree_size] = head.root_hash
    assert sorted(roots) == [4, 6]

    # An entry's proof against the older head, found by event id.
    by_event = await audit.stub.GetInclusionProof(
        api.GetInclusionProofRequest(event_id=proof.entry.event_id, tree_size=6), metadata=read
    )
    assert by_event.entry.sequence == 6 and by_event.root_hash == roots[6]

    consistency = await audit.stub.GetConsistencyProof(
        api.GetConsistencyProofRequest(first_tree_size=4), metadata=read
    )
    assert (consistency.first_tree_size, consistency.second_tree_size) == (4, 6)
    assert consistency.first_tree_head.root_hash == roots[4]
    assert verify_consistency(4, 6, list(consistency.proof), roots[4], roots[6])
    assert not verify_consistency(4, 6, list(consistency.proof), roots[6], roots[4])

    ledger = await audit.stub.VerifyLedger(api.VerifyLedgerRequest(), metadata=read)
    assert (ledger.ok, ledger.tree_size, ledger.tree_heads_checked) == (True, 6, 2)
    assert ledger.root_hash == roots[6] == ledger.latest_tree_head.root_hash


async def test_proof_requests_are_checked(audit: Audit) -> None:
    await record_case(audit)
    read = AUDITOR.metadata()
    calls = [
        (api.GetInclusionProofRequest(), grpc.StatusCode.INVALID_ARGUMENT),
        (api.GetInclusionProofRequest(sequence=99), grpc.StatusCode.NOT_FOUND),
        (api.GetInclusionProofRequest(sequence=5, tree_size=4), grpc.StatusCode.INVALID_ARGUMENT),
        (
            api.GetInclusionProofRequest(sequence=1, tree_size=99),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
    ]
    for request, code in calls:
        assert await status_of(audit.stub.GetInclusionProof(request, metadata=read)) == code
    bad = api.GetConsistencyProofRequest(first_tree_size=5, second_tree_size=4)
    assert await status_of(audit.stub.GetConsistencyProof(bad, metadata=read)) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )
    missing = api.GetSignedTreeHeadRequest(tree_size=3)
    assert await status_of(audit.stub.GetSignedTreeHead(missing, metadata=read)) == (
        grpc.StatusCode.NOT_FOUND
    )
    worker = Caller("u-d01", "department_user", "D01-transport").metadata()
    request = api.GetInclusionProofRequest(sequence=1)
    assert await status_of(audit.stub.GetInclusionProof(request, metadata=worker)) == (
        grpc.StatusCode.PERMISSION_DENIED
    )


async def test_a_dossier_proves_each_entry_of_the_case(audit: Audit) -> None:
    await record_case(audit)
    read = AUDITOR.metadata()
    key = await audit.stub.GetPublicKey(api.GetPublicKeyRequest(), metadata=read)
    reply = await audit.stub.GetDossier(
        api.GetDossierRequest(case_id=CASE, format=api.DOSSIER_FORMAT_JSON), metadata=read
    )
    assert reply.content_type == "application/json" and reply.filename == f"dossier-{CASE}.json"
    doc = json.loads(reply.content)
    head = doc["tree_head"]
    assert head["tree_size"] == reply.tree_head.tree_size == 6
    assert signature_ok(reply.tree_head, key.public_key)
    assert [e["sequence"] for e in doc["entries"]] == [1, 2, 4, 5]
    for e in doc["entries"]:
        leaf = rfc_leaf(e["leaf"].encode())
        assert leaf.hex() == e["leaf_hash"]
        path = [bytes.fromhex(h) for h in e["audit_path"]]
        assert verify_inclusion(leaf, e["leaf_index"], 6, path, bytes.fromhex(head["root_hash"]))
    assert [(e["stage"], e["sha256"]) for e in doc["evidence"]] == [
        ("处置进展", "ab" * 32),
        ("处置完成", "ab" * 32),
    ]
    assert doc["status"] == "awaiting_verification" and doc["category_code"] == "E0105"

    html = await audit.stub.GetDossier(
        api.GetDossierRequest(case_id=CASE, format=api.DOSSIER_FORMAT_HTML), metadata=read
    )
    page = html.content.decode()
    assert html.content_type.startswith("text/html") and '<html lang="zh-CN">' in page
    assert f"案卷 {CASE}" in page and "待核查" in page and "ab" * 32 in page
    assert head["root_hash"] in page and "@page" in page

    for request, code in [
        (
            api.GetDossierRequest(case_id="C-none", format=api.DOSSIER_FORMAT_HTML),
            grpc.StatusCode.NOT_FOUND,
        ),
        (api.GetDossierRequest(case_id=CASE), grpc.StatusCode.INVALID_ARGUMENT),
    ]:
        assert await status_of(audit.stub.GetDossier(request, metadata=read)) == code
