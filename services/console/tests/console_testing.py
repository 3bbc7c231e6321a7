"""Stand-ins for the services the console calls, and a console wired to them.

The stand-ins answer like intake, dispatch, workorders, audit and detection
would (a tiny in-memory world: two cases, two orders, a real RFC 6962 log
signed with Ed25519), record every call with the identity it carried, and
deliberately do *not* enforce department scoping, so tests prove the
console's own checks.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from google.protobuf.timestamp_pb2 import Timestamp
from grpc import aio
from sqlalchemy.ext.asyncio import AsyncEngine

from cityops.audit.v1 import audit_service_pb2 as audit_pb
from cityops.audit.v1 import evaluation_pb2, ledger_pb2, merkle_pb2
from cityops.common.v1 import common_pb2
from cityops.detection.v1 import detection_pb2
from cityops.detection.v1 import detection_service_pb2 as detection_pb
from cityops.dispatch.v1 import dispatch_service_pb2 as dispatch_pb
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import intake_service_pb2 as intake_pb
from cityops.workorders.v1 import work_order_pb2
from cityops.workorders.v1 import workorders_service_pb2 as wo_pb
from console.adapters import reference
from console.adapters import tables as _tables  # noqa: F401  (registers the tables)
from console.adapters.clients import ServiceClients
from console.adapters.i18n import Catalogues
from console.adapters.passwords import Passwords
from console.domain.access import Role
from console.domain.accounts import CLI_ADMINISTRATOR, new_department, new_user
from console.domain.ledger_proof import canonical_entry, leaf_hash, tree_head_message
from console.domain.ratelimit import LoginLimits
from console.domain.sessions import SessionPolicy
from console.entrypoints.http_api import create_app
from console.entrypoints.web.deps import WebApp, WebOptions
from console.service_layer import accounts
from console.service_layer.context import Console, Options
from console.service_layer.identity import LocalIdentityProvider
from console.service_layer.live import LiveHub
from console.service_layer.sessions import SessionManager
from console.service_layer.unit_of_work import ConsoleUnitOfWork
from console.service_layer.views import Reference
from svckit import db
from svckit.grpc.identity import caller_from_metadata

PASSWORD = "correct horse battery"
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
NOW = datetime.now(UTC)


class RpcError(aio.AioRpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(code, aio.Metadata(), aio.Metadata(), details=details)


def ts(when: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


@dataclass
class Call:
    service: str
    method: str
    request: Any
    user: str
    role: str
    department: str


class FakeStub:
    """Any RPC name; answers with `handlers[name](request)` or UNIMPLEMENTED."""

    def __init__(
        self, service: str, calls: list[Call], handlers: dict[str, Callable[[Any], Any]]
    ) -> None:
        self._service = service
        self._calls = calls
        self.handlers = handlers

    def __getattr__(self, name: str) -> Callable[..., Any]:
        async def rpc(request: Any, metadata: Any = None) -> Any:
            who = caller_from_metadata(metadata)
            self._calls.append(
                Call(self._service, name, request, who.user_id, who.role, who.department_id)
            )
            handler = self.handlers.get(name)
            if handler is None:
                raise RpcError(grpc.StatusCode.UNIMPLEMENTED, f"{name} not implemented")
            return handler(request)

        return rpc


def _case(
    case_id: str, state: int, code: str, lat: float, lon: float, dept: str, deadline: datetime
) -> case_pb2.Case:
    return case_pb2.Case(
        case_id=case_id,
        title=f"道路破损 {case_id}",
        category_code=code,
        state=state,
        place=common_pb2.Place(
            point=common_pb2.GeoPoint(latitude=lat, longitude=lon),
            district_code="D01",
            street_code="D01S01",
            grid_code="D01S01G01",
        ),
        urgency=common_pb2.URGENCY_EXPECTED,
        lead_department_id=dept,
        filed_at=ts(NOW - timedelta(hours=3)),
        updated_at=ts(NOW - timedelta(hours=1)),
        deadline=ts(deadline),
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        certainty=0.82,
        detection_ids=[f"det-{case_id}-1", f"det-{case_id}-2"],
        detection_count=2,
        evidence=[
            common_pb2.EvidenceRef(
                uri="https://evidence.sample-city.example/cam-1/1.jpg",
                sha256="ab" * 32,
                media_type="image/jpeg",
            )
        ],
    )


class MerkleLog:
    """A real RFC 6962 log over LedgerEntry protos, with Ed25519 tree heads."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.public = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = hashlib.sha256(self.public).hexdigest()
        self.entries: list[ledger_pb2.LedgerEntry] = []

    def append(self, case_id: str, event_type: str, summary: str) -> None:
        seq = len(self.entries) + 1
        entry = ledger_pb2.LedgerEntry(
            sequence=seq,
            case_id=case_id,
            event_id=f"evt-{seq}",
            event_type=event_type,
            subject="cityops.x",
            producer="intake",
            occurred_at=ts(NOW.replace(microsecond=123456) - timedelta(minutes=60 - seq)),
            recorded_at=ts(NOW.replace(microsecond=654321) - timedelta(minutes=59 - seq)),
            actor_user_id="operator",
            summary=summary,
            trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
            span_id="00f067aa0ba902b7",
            payload_sha256="cd" * 32,
        )
        entry.leaf_hash = self.leaf(entry).hex()
        entry.entry_hash = hashlib.sha256(entry.leaf_hash.encode()).hexdigest()
        self.entries.append(entry)

    @staticmethod
    def leaf(entry: ledger_pb2.LedgerEntry) -> bytes:
        from console.service_layer.ledger import entry_fields

        return leaf_hash(canonical_entry(entry_fields(entry)))

    def _mth(self, leaves: list[bytes]) -> bytes:
        if len(leaves) == 1:
            return leaves[0]
        k = 1
        while k * 2 < len(leaves):
            k *= 2
        return hashlib.sha256(b"\x01" + self._mth(leaves[:k]) + self._mth(leaves[k:])).digest()

    def _path(self, m: int, leaves: list[bytes]) -> list[bytes]:
        if len(leaves) == 1:
            return []
        k = 1
        while k * 2 < len(leaves):
            k *= 2
        if m < k:
            return [*self._path(m, leaves[:k]), self._mth(leaves[k:])]
        return [*self._path(m - k, leaves[k:]), self._mth(leaves[:k])]

    def proof(self, sequence: int, tamper: bool = False) -> audit_pb.GetInclusionProofResponse:
        leaves = [self.leaf(e) for e in self.entries]
        root = self._mth(leaves)
        stamp = 1_790_000_000_000
        head = merkle_pb2.SignedTreeHead(
            tree_size=len(leaves),
            root_hash=root,
            timestamp_ms=stamp,
            key_id=self.key_id,
            signature=self.key.sign(tree_head_message(stamp, len(leaves), root)),
            signature_algorithm="Ed25519",
        )
        entry = ledger_pb2.LedgerEntry()
        entry.CopyFrom(self.entries[sequence - 1])
        if tamper:
            entry.summary += " (edited)"
        return audit_pb.GetInclusionProofResponse(
            entry=entry,
            leaf_index=sequence - 1,
            tree_size=len(leaves),
            leaf_hash=leaves[sequence - 1],
            audit_path=self._path(sequence - 1, leaves),
            root_hash=root,
            tree_head=head,
        )


@dataclass
class World:
    """The stand-in services' shared state and the calls they received."""

    calls: list[Call] = field(default_factory=list)
    cases: dict[str, case_pb2.Case] = field(default_factory=dict)
    orders: dict[str, work_order_pb2.WorkOrder] = field(default_factory=dict)
    log: MerkleLog = field(default_factory=MerkleLog)
    tamper: bool = False

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def mutations(self) -> list[Call]:
        reads = ("List", "Get", "Evaluate", "Export", "Verify" + "Ledger")
        return [c for c in self.calls if not c.method.startswith(reads)]


def make_world() -> World:
    world = World()
    soon = NOW + timedelta(hours=2)
    world.cases["case-1"] = _case(
        "case-1", case_pb2.CASE_STATE_TRIAGE, "E0105", 31.25, 121.5, "", soon
    )
    world.cases["case-2"] = _case(
        "case-2", case_pb2.CASE_STATE_CLOSED, "E0105", 31.26, 121.51, "D01-transport", soon
    )
    world.cases["case-3"] = _case(
        "case-3",
        case_pb2.CASE_STATE_DISPATCHED,
        "E0105",
        31.24,
        121.49,
        "D01-transport",
        NOW - timedelta(hours=1),
    )
    world.orders["order-a"] = work_order_pb2.WorkOrder(
        order_id="order-a",
        case_id="case-3",
        department_id="D01-transport",
        state=work_order_pb2.WORK_ORDER_STATE_CREATED,
        category_code="E0105",
        title="道路破损",
        deadline=ts(NOW - timedelta(hours=1)),
        remaining_seconds=-3600,
        remaining_working_seconds=-1800,
    )
    world.orders["order-b"] = work_order_pb2.WorkOrder(
        order_id="order-b",
        case_id="case-2",
        department_id="D02-water",
        state=work_order_pb2.WORK_ORDER_STATE_ACCEPTED,
        category_code="E0105",
        title="积水",
        deadline=ts(soon),
        remaining_seconds=7200,
        remaining_working_seconds=5400,
    )
    for i, kind in enumerate(("CaseFiled", "CaseDispatched", "CaseClosed")):
        world.log.append("case-2", f"cityops.x.v1.{kind}", f"step {i + 1}")
    return world


def _not_found(what: str) -> RpcError:
    return RpcError(grpc.StatusCode.NOT_FOUND, f"{what} not found")


def stubs(world: World) -> ServiceClients:
    def get_case(r: Any) -> Any:
        if r.case_id not in world.cases:
            raise _not_found(f"case {r.case_id}")
        return intake_pb.GetCaseResponse(case=world.cases[r.case_id])

    def list_cases(r: Any) -> Any:
        found = [c for c in world.cases.values() if not r.states or c.state in r.states]
        return intake_pb.ListCasesResponse(cases=found, total_size=len(found))

    def file_case(r: Any) -> Any:
        case = world.cases[r.case_id]
        case.state = case_pb2.CASE_STATE_FILED
        return intake_pb.FileCaseResponse(case=case)

    def create_case(r: Any) -> Any:
        case = _case(
            f"case-{len(world.cases) + 1}",
            case_pb2.CASE_STATE_FILED,
            r.category_code,
            r.point.latitude,
            r.point.longitude,
            "",
            NOW + timedelta(days=1),
        )
        case.title = r.title
        world.cases[case.case_id] = case
        return intake_pb.CreateCaseResponse(case=case)

    def list_orders(r: Any) -> Any:
        found = [
            o
            for o in world.orders.values()
            if (not r.states or o.state in r.states) and (not r.case_id or o.case_id == r.case_id)
        ]
        return wo_pb.ListWorkOrdersResponse(work_orders=found)

    def get_order(r: Any) -> Any:
        if r.order_id not in world.orders:
            raise _not_found(f"work order {r.order_id}")
        return wo_pb.GetWorkOrderResponse(work_order=world.orders[r.order_id])

    def accept(r: Any) -> Any:
        order = world.orders[r.order_id]
        order.state = work_order_pb2.WORK_ORDER_STATE_ACCEPTED
        return wo_pb.AcceptWorkOrderResponse(work_order=order)

    def upload(r: Any) -> Any:
        item = work_order_pb2.EvidenceItem(
            evidence_id="ev-1",
            order_id=r.order_id,
            file_name=r.file_name,
            kind=r.kind,
            ref=common_pb2.EvidenceRef(
                uri="nats-os://evidence/ev-1",
                sha256=hashlib.sha256(r.content).hexdigest(),
                media_type=r.media_type,
                size_bytes=len(r.content),
            ),
        )
        world.orders[r.order_id].evidence_items.append(item)
        return wo_pb.UploadEvidenceResponse(evidence=item)

    def complete(r: Any) -> Any:
        order = world.orders[r.order_id]
        order.state = work_order_pb2.WORK_ORDER_STATE_COMPLETED
        order.completion_note = r.note
        return wo_pb.CompleteWorkOrderResponse(work_order=order)

    def get_evidence(r: Any) -> Any:
        order = world.orders[r.order_id]
        item = next(i for i in order.evidence_items if i.evidence_id == r.evidence_id)
        return wo_pb.GetEvidenceResponse(evidence=item, content=b"\xff\xd8\xff photo")

    def timeline(r: Any) -> Any:
        return audit_pb.GetTimelineResponse(
            entries=[e for e in world.log.entries if e.case_id == r.case_id]
        )

    def evaluate(r: Any) -> Any:
        figure = evaluation_pb2.EvaluationFigure(
            code="composite_score", name_zh="综合指标值", value=87.5, defined=True
        )
        return audit_pb.EvaluateResponse(
            report=evaluation_pb2.EvaluationReport(
                formula_version="2026.1",
                rows=[evaluation_pb2.EvaluationRow(group_key="D01-transport", figures=[figure])],
            )
        )

    return ServiceClients(
        intake=FakeStub(
            "intake",
            world.calls,
            {
                "GetCase": get_case,
                "ListCases": list_cases,
                "ListTriageQueue": lambda r: intake_pb.ListTriageQueueResponse(
                    cases=[c for c in world.cases.values() if c.state == case_pb2.CASE_STATE_TRIAGE]
                ),
                "FileCase": file_case,
                "CreateCase": create_case,
                "RejectCase": lambda r: intake_pb.RejectCaseResponse(case=world.cases[r.case_id]),
                "MergeCase": lambda r: intake_pb.MergeCaseResponse(case=world.cases[r.case_id]),
                "ReclassifyCase": lambda r: intake_pb.ReclassifyCaseResponse(
                    case=world.cases[r.case_id]
                ),
                "SetUrgency": lambda r: intake_pb.SetUrgencyResponse(case=world.cases[r.case_id]),
            },
        ),
        dispatch=FakeStub(
            "dispatch",
            world.calls,
            {
                "GetDispatch": lambda r: dispatch_pb.GetDispatchResponse(
                    case_id=r.case_id, state="dispatched"
                ),
                "ListQueue": lambda r: dispatch_pb.ListQueueResponse(),
                "DispatchManually": lambda r: dispatch_pb.DispatchManuallyResponse(),
                "Arbitrate": lambda r: dispatch_pb.ArbitrateResponse(arbitration_id="arb-1"),
                "DecideExtension": lambda r: dispatch_pb.DecideExtensionResponse(
                    extension_id=r.extension_id, approved=r.approve
                ),
                "Backlog": lambda r: dispatch_pb.BacklogResponse(case_id=r.case_id),
                "Resume": lambda r: dispatch_pb.ResumeResponse(
                    case_id=r.case_id, state="dispatched"
                ),
            },
        ),
        workorders=FakeStub(
            "workorders",
            world.calls,
            {
                "ListWorkOrders": list_orders,
                "GetWorkOrder": get_order,
                "AcceptWorkOrder": accept,
                "ReturnWorkOrder": lambda r: wo_pb.ReturnWorkOrderResponse(
                    work_order=world.orders[r.order_id]
                ),
                "ReportProgress": lambda r: wo_pb.ReportProgressResponse(
                    work_order=world.orders[r.order_id]
                ),
                "RequestExtension": lambda r: wo_pb.RequestExtensionResponse(
                    work_order=world.orders[r.order_id]
                ),
                "UploadEvidence": upload,
                "CompleteWorkOrder": complete,
                "GetEvidence": get_evidence,
            },
        ),
        audit=FakeStub(
            "audit",
            world.calls,
            {
                "GetTimeline": timeline,
                "VerifyLedger": lambda r: audit_pb.VerifyLedgerResponse(
                    ok=True, entries_checked=len(world.log.entries)
                ),
                "VerifyCase": lambda r: audit_pb.VerifyCaseResponse(verification_id="ver-1"),
                "CloseCase": lambda r: audit_pb.CloseCaseResponse(case_id=r.case_id),
                "GetInclusionProof": lambda r: world.log.proof(r.sequence, tamper=world.tamper),
                "GetPublicKey": lambda r: audit_pb.GetPublicKeyResponse(
                    key_id=world.log.key_id,
                    public_key=world.log.public,
                    trusted_key_ids=[world.log.key_id],
                ),
                "Evaluate": evaluate,
                "ExportEvaluation": lambda r: audit_pb.ExportEvaluationResponse(
                    content=b"group,score\nD01-transport,87.5\n",
                    content_type="text/csv",
                    filename="evaluation.csv",
                ),
                "GetDossier": lambda r: audit_pb.GetDossierResponse(
                    content=b"<html><body>dossier</body></html>",
                    content_type="text/html",
                    filename="dossier.html",
                ),
            },
        ),
        detection=FakeStub(
            "detection",
            world.calls,
            {
                "GetDetection": lambda r: detection_pb.GetDetectionResponse(
                    detection=detection_pb2.Detection(
                        detection_id=r.detection_id, source_id="cam-0042", confidence=0.9
                    )
                ),
            },
        ),
    )


@functools.cache
def shipped_reference() -> Reference:
    """The repository's catalogue, sample city and departments (loaded once)."""
    departments = {d.department_id: d for d in reference.load_departments(None)}
    return Reference(reference.load_catalogue(None), reference.load_city_map(None), departments)


@functools.cache
def catalogues() -> Catalogues:
    return Catalogues()


USERS = {
    "operator": (Role.OPERATOR, "centre"),
    "supervisor": (Role.SUPERVISOR, "centre"),
    "inspector": (Role.INSPECTOR, "centre-inspection"),
    "auditor": (Role.AUDITOR, ""),
    "admin": (Role.ADMIN, ""),
    "transport": (Role.DEPARTMENT_USER, "D01-transport"),
    "water": (Role.DEPARTMENT_USER, "D02-water"),
}


@dataclass
class ConsoleUnderTest:
    web: WebApp
    world: World
    engine: AsyncEngine
    app: Any

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(
                app=self.app, client=kwargs.pop("client", ("10.0.0.1", 1234))
            ),
            base_url="http://testserver",
            **kwargs,
        )


async def login(http: httpx.AsyncClient, user: str, password: str = PASSWORD) -> str:
    """Logs in through the API; returns the session's CSRF token."""
    reply = await http.post("/api/session", json={"user_id": user, "password": password})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["csrf_token"])


async def build_console(
    database_url: str, limits: LoginLimits | None = None, **options: Any
) -> ConsoleUnderTest:
    """A console on a fresh store at `database_url` (the `database_url` fixture:
    SQLite or PostgreSQL); dispose of its engine when done."""
    engine = db.create_engine(database_url)
    await db.create_tables(engine)

    def uow() -> ConsoleUnitOfWork:
        return ConsoleUnitOfWork(engine, "console")

    passwords = Passwords(FAST_HASHER)
    for dept in [
        *reference.CENTRE_UNITS,
        new_department("D01-transport", "东湖区交通运输局", "Donghu Transport", "D01"),
        new_department("D02-water", "西城区水务局", "Xicheng Water", "D02"),
    ]:
        await accounts.create_department(uow(), dept, CLI_ADMINISTRATOR)
    for user_id, (role, dept_id) in USERS.items():
        await accounts.create_user(
            uow(), passwords, new_user(user_id, role, dept_id), PASSWORD, CLI_ADMINISTRATOR
        )
    world = make_world()
    web = WebApp(
        console=Console(stubs(world), shipped_reference(), Options(**options)),
        sessions=SessionManager(uow, SessionPolicy()),
        identity=LocalIdentityProvider(uow, passwords, limits or LoginLimits()),
        uow=uow,
        hub=LiveHub(),
        catalogues=catalogues(),
        passwords=passwords,
        options=WebOptions(
            city_geojson=reference.city_geojson_path(None),
            heartbeat_seconds=0.2,
            open311_api_keys={"hotline": "k-hotline"},
        ),
    )
    return ConsoleUnderTest(web, world, engine, create_app(web))
