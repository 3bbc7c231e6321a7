"""The states of a work order and the one table of which action may move it where.

Kept apart from the model so rules, tests and docs read the same table.
"""

from __future__ import annotations

from enum import StrEnum

from svckit.errors import FailedPreconditionError


class OrderState(StrEnum):
    """Where an order stands; the string is what the table stores."""

    CREATED = "created"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    RETURNED = "returned"
    EXTENSION_REQUESTED = "extension_requested"
    REOPENED = "reopened"
    CANCELLED = "cancelled"


class OrderRole(StrEnum):
    """Lead (主办) or assisting (协办) department of a joint case."""

    LEAD = "lead"
    ASSIST = "assist"


class Action(StrEnum):
    """Everything that may happen to an order, by a department or by another service."""

    ACCEPT = "accept"
    RETURN = "return"
    PROGRESS = "progress"
    REQUEST_EXTENSION = "request_extension"
    DECIDE_EXTENSION = "decide_extension"
    COMPLETE = "complete"
    REOPEN = "reopen"
    CANCEL = "cancel"
    UPLOAD_EVIDENCE = "upload_evidence"


# The department is working on it: progress, extension and completion are open.
# REOPENED (返工) behaves like ACCEPTED.
WORKING = frozenset({OrderState.ACCEPTED, OrderState.IN_PROGRESS, OrderState.REOPENED})
# Nothing more happens to these orders.
FINAL = frozenset({OrderState.RETURNED, OrderState.CANCELLED})
LIVE = frozenset(OrderState) - FINAL - {OrderState.COMPLETED}

# action → (states it is allowed from, the state it leads to; None: stays, or
# for DECIDE_EXTENSION the working state the order was in before asking).
TRANSITIONS: dict[Action, tuple[frozenset[OrderState], OrderState | None]] = {
    Action.ACCEPT: (frozenset({OrderState.CREATED}), OrderState.ACCEPTED),
    Action.RETURN: (frozenset({OrderState.CREATED, OrderState.ACCEPTED}), OrderState.RETURNED),
    Action.PROGRESS: (WORKING, OrderState.IN_PROGRESS),
    Action.REQUEST_EXTENSION: (WORKING, OrderState.EXTENSION_REQUESTED),
    Action.DECIDE_EXTENSION: (frozenset({OrderState.EXTENSION_REQUESTED}), None),
    Action.COMPLETE: (WORKING, OrderState.COMPLETED),
    Action.REOPEN: (frozenset({OrderState.COMPLETED}), OrderState.REOPENED),
    Action.CANCEL: (LIVE, OrderState.CANCELLED),
    Action.UPLOAD_EVIDENCE: (WORKING | {OrderState.EXTENSION_REQUESTED}, None),
}


def transition(
    current: OrderState, action: Action, *, resume: OrderState | None = None
) -> OrderState:
    """The state `action` leads to from `current`, or FailedPreconditionError
    naming the state and the states the action needs.

    `resume` is the working state to return to when an extension is decided.
    """
    allowed, target = TRANSITIONS[action]
    if current not in allowed:
        needed = " or ".join(sorted(s.value for s in allowed))
        raise FailedPreconditionError(f"work order is {current}; {action} needs a {needed} order")
    if action is Action.DECIDE_EXTENSION:
        if resume is None or resume not in WORKING:
            raise FailedPreconditionError(f"work order has no working state to resume ({resume})")
        return resume
    return target or current
