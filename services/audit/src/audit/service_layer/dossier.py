"""Assembling a case dossier: the case's ledger entries, each with its
inclusion proof against one signed tree head, and the evidence they cite."""

from __future__ import annotations

from audit.adapters.payloads import UnreadableEntryError, case_facts, evidence
from audit.adapters.signing import TrustedKeys
from audit.adapters.summaries import CategoryName
from audit.domain import proofs, rules
from audit.domain.dossier import CaseFacts, Dossier, DossierEntry, Evidence
from audit.domain.merkle import NodeRef
from audit.domain.model import LedgerEntry
from audit.domain.tree_head import Signer, TreeHead
from audit.service_layer.access import require
from audit.service_layer.tree_heads import head_covering
from audit.service_layer.unit_of_work import AuditUnitOfWork
from svckit.clock import utcnow
from svckit.errors import NotFoundError
from svckit.grpc.identity import Caller


async def build_dossier(
    uow: AuditUnitOfWork,
    case_id: str,
    trusted: TrustedKeys,
    *,
    signer: Signer | None,
    caller: Caller | None = None,
    category_name: CategoryName | None = None,
) -> Dossier:
    """With a signer, every entry is proven against a head covering it (one is
    signed now if needed); without (the offline CLI), against the latest
    head, and entries after it are marked unproven."""
    if caller is not None:
        require(caller, rules.READER_ROLES, "read the ledger")
    case_id = rules.require_text(case_id, "case_id")
    async with uow.snapshot() as view:
        entries = await view.ledger.timeline(case_id)
        case = await view.cases.get(case_id)
        head = await view.ledger.tree_head()
    if not entries:
        raise NotFoundError(f"no ledger entries for case {case_id}")
    last = entries[-1].sequence
    if signer is not None and (head is None or head.tree_size < last):
        head = await head_covering(uow, signer, last)
    proven = await _proven(uow, entries, head)
    facts, found, problems = _read(entries)
    return Dossier(
        case_id=case_id,
        generated_at=utcnow(),
        status=case.status.value if case else "",
        reason_code=case.reason_code if case else "",
        machine_verified=case.machine_verified if case else False,
        facts=facts,
        category_name=(category_name or (lambda _c: ""))(facts.category_code),
        head=head,
        public_key=trusted.public_key(head.key_id) if head else None,
        entries=proven,
        evidence=tuple(found),
        problems=tuple(problems),
    )


async def _proven(
    uow: AuditUnitOfWork, entries: list[LedgerEntry], head: TreeHead | None
) -> tuple[DossierEntry, ...]:
    size = head.tree_size if head else 0
    covered = [e for e in entries if e.sequence <= size]
    needed: set[NodeRef] = set()
    for entry in covered:
        needed |= proofs.inclusion_nodes(entry.sequence - 1, size)
    async with uow.snapshot() as view:
        nodes = await view.ledger.nodes(needed)
    paths = {e.sequence: proofs.inclusion_proof(e, size, nodes).audit_path for e in covered}
    return tuple(DossierEntry(e, paths.get(e.sequence)) for e in entries)


def _read(entries: list[LedgerEntry]) -> tuple[CaseFacts, list[Evidence], list[str]]:
    found: list[Evidence] = []
    problems: list[str] = []
    for entry in entries:
        try:
            found += evidence(entry)
        except UnreadableEntryError as exc:
            problems.append(str(exc))
    try:
        facts = case_facts(entries)
    except UnreadableEntryError as exc:
        problems.append(str(exc))
        facts = CaseFacts()
    return facts, found, problems
