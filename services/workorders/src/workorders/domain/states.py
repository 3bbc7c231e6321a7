"""The states of a work order, apart from the model so the rules can name them."""

from __future__ import annotations

from enum import StrEnum


class OrderState(StrEnum):
    """Where an order stands; the string is what the table stores."""

    CREATED = "created"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
