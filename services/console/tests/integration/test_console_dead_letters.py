"""Administrators see every service's dead letters, and which service could
not be asked, and replay them; nobody else can."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from cityops.ops.v1 import dead_letters_pb2 as pb
from services.console.tests.console_testing import ConsoleUnderTest, login


@dataclass
class DeadLetterStub:
    """A service's dead-letter API as the console sees it over gRPC."""

    letters: list[pb.DeadLetter] = field(default_factory=list)
    replays: list[tuple[pb.ReplayDeadLettersRequest, dict[str, str]]] = field(default_factory=list)

    async def ListDeadLetters(  # noqa: N802 (gRPC method name)
        self, request: pb.ListDeadLettersRequest, metadata: Any = ()
    ) -> pb.ListDeadLettersResponse:
        return pb.ListDeadLettersResponse(dead_letters=self.letters, total=len(self.letters))

    async def ReplayDeadLetters(  # noqa: N802 (gRPC method name)
        self, request: pb.ReplayDeadLettersRequest, metadata: Any = ()
    ) -> pb.ReplayDeadLettersResponse:
        self.replays.append((request, dict(metadata)))
        known = {letter.id for letter in self.letters}
        return pb.ReplayDeadLettersResponse(
            replayed=len(self.letters) if request.all else len(set(request.ids) & known),
            not_found=sorted(set(request.ids) - known),
        )


class Unreachable:
    async def ListDeadLetters(self, request: Any, metadata: Any = ()) -> Any:  # noqa: N802
        raise grpc.aio.AioRpcError(
            grpc.StatusCode.UNAVAILABLE,
            grpc.aio.Metadata(),
            grpc.aio.Metadata(),
            "connection refused",
        )


def letter(letter_id: int) -> pb.DeadLetter:
    failed = Timestamp()
    failed.FromSeconds(1_790_000_000)
    return pb.DeadLetter(
        id=letter_id,
        consumer="dispatch-intake",
        stream="INTAKE",
        subject="cityops.intake.case.filed",
        message_id=f"m-{letter_id}",
        deliveries=10,
        reason="no rule table for 小类 Z9999",
        failed_at=failed,
        event_type="cityops.intake.v1.CaseFiled",
    )


def install(console: ConsoleUnderTest) -> DeadLetterStub:
    dispatch = DeadLetterStub([letter(7), letter(8)])
    console.web.console.clients.dead_letters = {
        "dispatch": dispatch,
        "intake": DeadLetterStub(),
        "audit": Unreachable(),
    }
    return dispatch


async def test_the_admin_screen_and_api_list_every_services_dead_letters(
    console: ConsoleUnderTest,
) -> None:
    install(console)
    async with console.client() as http:
        await login(http, "admin")
        page = await http.get("/admin?lang=en")
        assert page.status_code == 200
        assert 'data-dead-letter="7"' in page.text and "no rule table" in page.text
        assert "Not reachable" in page.text and "UNAVAILABLE" in page.text
        listing = (await http.get("/api/admin/dead-letters")).json()["services"]
    by_service = {s["service"]: s for s in listing}
    assert by_service["dispatch"]["total"] == 2
    assert by_service["dispatch"]["dead_letters"][0]["subject"] == "cityops.intake.case.filed"
    assert by_service["intake"] == {
        "service": "intake",
        "total": 0,
        "error": "",
        "dead_letters": [],
    }
    assert by_service["audit"]["error"].startswith("UNAVAILABLE")


async def test_replay_goes_to_the_named_service_as_the_admin(console: ConsoleUnderTest) -> None:
    dispatch = install(console)
    async with console.client() as http:
        csrf = await login(http, "admin")
        one = await http.post(
            "/api/admin/dead-letters/dispatch/replay",
            json={"id": 7},
            headers={"X-CSRF-Token": csrf},
        )
        assert one.json() == {"replayed": 1, "not_found": []}
        everything = await http.post(
            "/api/admin/dead-letters/dispatch/replay",
            json={"all": True},
            headers={"X-CSRF-Token": csrf},
        )
        assert everything.json()["replayed"] == 2
        unknown = await http.post(
            "/api/admin/dead-letters/nowhere/replay",
            json={"all": True},
            headers={"X-CSRF-Token": csrf},
        )
        assert unknown.status_code == 404
        empty = await http.post(
            "/api/admin/dead-letters/dispatch/replay", json={}, headers={"X-CSRF-Token": csrf}
        )
        assert empty.status_code == 400
    [(first, metadata), (second, _)] = dispatch.replays
    assert list(first.ids) == [7] and not first.all and second.all
    assert metadata["x-cityops-user"] == "admin" and metadata["x-cityops-role"] == "admin"


async def test_only_administrators_see_or_replay_dead_letters(console: ConsoleUnderTest) -> None:
    dispatch = install(console)
    async with console.client() as http:
        csrf = await login(http, "supervisor")
        assert (await http.get("/api/admin/dead-letters")).status_code == 403
        replay = await http.post(
            "/api/admin/dead-letters/dispatch/replay",
            json={"all": True},
            headers={"X-CSRF-Token": csrf},
        )
        assert replay.status_code == 403
    assert dispatch.replays == []
