"""Signing tree heads: every N entries inside the appending transaction, on a
timer while the ledger grows, and on demand when a proof must be against a
head newer than the latest."""

from __future__ import annotations

from audit.domain.ledger import LedgerTip
from audit.domain.tree_head import Signer, TreeHead, sign_tree_head
from audit.service_layer.unit_of_work import AuditUnitOfWork
from svckit.clock import utcnow
from svckit.errors import FailedPreconditionError
from svckit.logging import get_logger

log = get_logger(__name__)


def sign_head(uow: AuditUnitOfWork, tip: LedgerTip, signer: Signer) -> TreeHead:
    """Sign the tip's tree in the current transaction."""
    head = sign_tree_head(signer, tip.size, tip.root, utcnow())
    uow.ledger.add_tree_head(head)
    tip.signed_size = tip.size
    uow.ledger.save_tip(tip)
    log.info("tree head signed", tree_size=head.tree_size, root_hash=head.root_hash.hex())
    return head


async def sign_if_grown(uow: AuditUnitOfWork, signer: Signer) -> TreeHead | None:
    """The timer's job: a new head when entries arrived since the last one."""
    async with uow:
        tip = await uow.ledger.tip()
        if tip.size <= tip.signed_size:
            return None
        head = sign_head(uow, tip, signer)
        await uow.commit()
    return head


async def head_covering(uow: AuditUnitOfWork, signer: Signer, sequence: int) -> TreeHead:
    """The latest head if it covers entry `sequence`, else a head signed now."""
    async with uow.snapshot() as view:
        head = await view.ledger.tree_head()
    if head is not None and head.tree_size >= sequence:
        return head
    await sign_if_grown(uow, signer)
    async with uow.snapshot() as view:
        latest = await view.ledger.tree_head()
    if latest is None or latest.tree_size < sequence:
        raise FailedPreconditionError(f"entry {sequence} is not in the ledger")
    return latest
