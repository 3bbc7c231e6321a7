"""The dead-letter API every service serves beside its own (cityops.ops.v1):
what its consumers gave up on, for the console's operators, and replay after
a fix. Administrators only, because a replay re-runs other people's events."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncEngine

from cityops.ops.v1 import dead_letters_pb2 as pb
from cityops.ops.v1 import dead_letters_pb2_grpc
from svckit import deadletters
from svckit.errors import InvalidArgumentError, PermissionDeniedError
from svckit.grpc.identity import caller_from_metadata
from svckit.logging import get_logger
from svckit.tables import DeadLetter

log = get_logger(__name__)
SERVICE_NAME = "cityops.ops.v1.DeadLetterService"
MAX_PAGE = 500
OPERATOR_ROLES = frozenset({"admin"})


def _to_proto(letter: DeadLetter) -> pb.DeadLetter:
    failed_at = Timestamp()
    failed_at.FromDatetime(letter.failed_at)
    headers: dict[str, str] = json.loads(letter.headers or "{}")
    return pb.DeadLetter(
        id=letter.id or 0,
        consumer=letter.consumer,
        stream=letter.stream,
        subject=letter.subject,
        message_id=letter.message_id,
        stream_sequence=letter.stream_sequence,
        deliveries=letter.deliveries,
        reason=letter.reason,
        failed_at=failed_at,
        event_type=headers.get("ce-type", ""),
        size_bytes=len(letter.body),
    )


def _require_operator(context: Any) -> str:
    caller = caller_from_metadata(context.invocation_metadata())
    if caller.role not in OPERATOR_ROLES:
        raise PermissionDeniedError(f"role {caller.role} may not see or replay dead letters")
    return caller.user_id


class DeadLetterServicer(dead_letters_pb2_grpc.DeadLetterServiceServicer):
    def __init__(self, engine: Callable[[], AsyncEngine], js: Callable[[], JetStreamContext]):
        # Callables: the runtime's engine and NATS connection exist only once it has started.
        self._engine = engine
        self._js = js

    async def ListDeadLetters(  # noqa: N802 (gRPC method name)
        self, request: pb.ListDeadLettersRequest, context: Any
    ) -> pb.ListDeadLettersResponse:
        _require_operator(context)
        if request.page_size < 0:
            raise InvalidArgumentError("page_size must not be negative")
        limit = min(request.page_size or MAX_PAGE, MAX_PAGE)
        letters, total = await deadletters.dead_letter_page(self._engine(), limit)
        return pb.ListDeadLettersResponse(
            dead_letters=[_to_proto(letter) for letter in letters], total=total
        )

    async def ReplayDeadLetters(  # noqa: N802 (gRPC method name)
        self, request: pb.ReplayDeadLettersRequest, context: Any
    ) -> pb.ReplayDeadLettersResponse:
        user = _require_operator(context)
        if not request.all and not request.ids:
            raise InvalidArgumentError("name the dead letters to replay (ids) or set all")
        if request.all and request.ids:
            raise InvalidArgumentError("give ids or all, not both")
        engine = self._engine()
        waiting = {letter.id for letter in await deadletters.list_dead_letters(engine)}
        wanted = None if request.all else [i for i in request.ids if i in waiting]
        missing = [] if request.all else sorted(set(request.ids) - waiting)
        replayed = await deadletters.replay(engine, self._js(), wanted) if wanted != [] else 0
        await deadletters.sample_waiting(engine)
        log.info("dead letters replayed", replayed=replayed, not_found=missing, user_id=user)
        return pb.ReplayDeadLettersResponse(replayed=replayed, not_found=missing)


def registration(
    engine: Callable[[], AsyncEngine], js: Callable[[], JetStreamContext]
) -> tuple[Any, Any, str]:
    return (
        dead_letters_pb2_grpc.add_DeadLetterServiceServicer_to_server,
        DeadLetterServicer(engine, js),
        SERVICE_NAME,
    )
