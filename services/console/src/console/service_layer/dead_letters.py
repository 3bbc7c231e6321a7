"""Dead letters across the services, for administrators: what each service's
consumers gave up on, and replay once the cause is fixed. A service that
cannot be reached is reported as such, not hidden behind an empty list."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc

from cityops.ops.v1 import dead_letters_pb2 as pb
from console.adapters.clients import call
from console.domain.access import Permission, Principal
from console.service_layer.context import Console, caller
from svckit.errors import InvalidArgumentError, NotFoundError


@dataclass
class ServiceDeadLetters:
    service: str
    total: int = 0
    letters: list[Any] = field(default_factory=list)
    # Why the service could not be asked (unreachable, refused); empty when it answered.
    error: str = ""


async def list_all(console: Console, who: Principal) -> list[ServiceDeadLetters]:
    who.require(Permission.ADMIN)
    found = []
    for service, stub in sorted(console.clients.dead_letters.items()):
        try:
            reply = await call(stub.ListDeadLetters, pb.ListDeadLettersRequest(), caller(who))
        except grpc.aio.AioRpcError as exc:
            found.append(ServiceDeadLetters(service, error=f"{exc.code().name}: {exc.details()}"))
            continue
        found.append(ServiceDeadLetters(service, reply.total, list(reply.dead_letters)))
    return found


async def replay(
    console: Console, who: Principal, service: str, ids: list[int], everything: bool
) -> Any:
    who.require(Permission.ADMIN)
    stub = console.clients.dead_letters.get(service)
    if stub is None:
        raise NotFoundError(f"no service {service!r} holds dead letters")
    if not everything and not ids:
        raise InvalidArgumentError("name the dead letters to replay (ids) or set all")
    request = pb.ReplayDeadLettersRequest(ids=[] if everything else ids, all=everything)
    return await call(stub.ReplayDeadLetters, request, caller(who))
