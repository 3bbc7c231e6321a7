"""Console pages and REST API over stand-in service clients (no network)."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from fastapi.testclient import TestClient
from google.protobuf.timestamp_pb2 import Timestamp
from grpc import aio

from cityops.audit.v1 import audit_service_pb2, ledger_pb2
from cityops.common.v1 import common_pb2
from cityops.intake.v1 import case_pb2, intake_service_pb2
from console.entrypoints.http_api import create_app

CASE = case_pb2.Case(
    case_id="case-1",
    title="道路破损 东湖区",
    category_code="E0105",
    state=case_pb2.CASE_STATE_CLOSED,
    place=common_pb2.Place(district_code="D01", grid_code="D01S01G01"),
    lead_department_id="D01-transport",
    filed_at=Timestamp(seconds=1_790_000_000),
)


class NotFound(aio.AioRpcError):
    def __init__(self) -> None:
        super().__init__(
            grpc.StatusCode.NOT_FOUND, aio.Metadata(), aio.Metadata(), details="no such case"
        )


class StandInClients:
    """Answers as intake and audit would, so the HTTP layer is tested alone."""

    def __init__(self) -> None:
        self.requested_states: list[list[int]] = []

    async def list_cases(
        self, states: list[int], page_size: int, page_token: str
    ) -> intake_service_pb2.ListCasesResponse:
        self.requested_states.append(states)
        return intake_service_pb2.ListCasesResponse(cases=[CASE], total_size=1)

    async def get_case(self, case_id: str) -> case_pb2.Case:
        if case_id != CASE.case_id:
            raise NotFound()
        return CASE

    async def timeline(self, case_id: str) -> list[ledger_pb2.LedgerEntry]:
        return [
            ledger_pb2.LedgerEntry(
                sequence=1,
                case_id=case_id,
                summary="结案",
                event_type="cityops.audit.v1.CaseClosed",
                entry_hash="ab" * 32,
            )
        ]

    async def verify_ledger(self) -> audit_service_pb2.VerifyLedgerResponse:
        return audit_service_pb2.VerifyLedgerResponse(ok=True, entries_checked=1)

    async def close(self) -> None:
        return None


@pytest.fixture
def clients() -> StandInClients:
    return StandInClients()


@pytest.fixture
def http(clients: StandInClients) -> Iterator[TestClient]:
    with TestClient(create_app(lambda: clients)) as client:
        yield client


def test_case_list_renders_in_chinese_by_default_and_english_on_request(http: TestClient) -> None:
    zh = http.get("/")
    assert (
        zh.status_code == 200
        and "案件列表" in zh.text
        and "已结案" in zh.text
        and 'lang="zh-CN"' in zh.text
    )
    en = http.get("/?lang=en")
    assert "Cases" in en.text and "Closed" in en.text and 'lang="en"' in en.text
    # The choice sticks for the next page.
    assert "Closed" in http.get("/").text


def test_case_page_shows_timeline(http: TestClient) -> None:
    page = http.get("/cases/case-1")
    assert page.status_code == 200 and "案件履历" in page.text and "CaseClosed" in page.text


def test_unknown_case_is_404_with_reason(http: TestClient) -> None:
    reply = http.get("/api/cases/nope")
    assert reply.status_code == 404 and reply.json() == {"detail": "no such case"}


def test_state_filter_is_validated_and_passed_on(http: TestClient, clients: StandInClients) -> None:
    assert http.get("/api/cases?state=BOGUS").status_code == 400
    reply = http.get("/api/cases?state=CASE_STATE_CLOSED")
    assert reply.status_code == 200 and reply.json()["cases"][0]["case_id"] == "case-1"
    assert clients.requested_states[-1] == [case_pb2.CASE_STATE_CLOSED]


def test_timeline_and_ledger_api(http: TestClient) -> None:
    assert http.get("/api/cases/case-1/timeline").json()["entries"][0]["summary"] == "结案"
    assert http.get("/api/ledger/verify").json()["ok"] is True
