"""gRPC clients for the services the console reads. The console acts as an
auditor-level reader until logins arrive (the console issue)."""

from __future__ import annotations

from dataclasses import dataclass

from grpc import aio

from cityops.audit.v1 import audit_service_pb2 as audit_pb
from cityops.audit.v1 import audit_service_pb2_grpc as audit_grpc
from cityops.audit.v1 import ledger_pb2
from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import intake_service_pb2 as intake_pb
from cityops.intake.v1 import intake_service_pb2_grpc as intake_grpc
from svckit.grpc.client import channel
from svckit.grpc.identity import Caller

CONSOLE_READER = Caller(user_id="console", role="auditor")


@dataclass
class ServiceClients:
    intake_channel: aio.Channel
    audit_channel: aio.Channel

    @classmethod
    def connect(cls, intake_target: str, audit_target: str) -> ServiceClients:
        return cls(channel(intake_target), channel(audit_target))

    async def list_cases(
        self, states: list[case_pb2.CaseState.ValueType], page_size: int, page_token: str
    ) -> intake_pb.ListCasesResponse:
        stub = intake_grpc.IntakeServiceStub(self.intake_channel)
        return await stub.ListCases(
            intake_pb.ListCasesRequest(states=states, page_size=page_size, page_token=page_token),
            metadata=CONSOLE_READER.metadata(),
        )

    async def get_case(self, case_id: str) -> case_pb2.Case:
        stub = intake_grpc.IntakeServiceStub(self.intake_channel)
        reply = await stub.GetCase(
            intake_pb.GetCaseRequest(case_id=case_id), metadata=CONSOLE_READER.metadata()
        )
        return reply.case

    async def timeline(self, case_id: str) -> list[ledger_pb2.LedgerEntry]:
        stub = audit_grpc.AuditServiceStub(self.audit_channel)
        reply = await stub.GetTimeline(
            audit_pb.GetTimelineRequest(case_id=case_id), metadata=CONSOLE_READER.metadata()
        )
        return list(reply.entries)

    async def verify_ledger(self) -> audit_pb.VerifyLedgerResponse:
        stub = audit_grpc.AuditServiceStub(self.audit_channel)
        return await stub.VerifyLedger(
            audit_pb.VerifyLedgerRequest(), metadata=CONSOLE_READER.metadata()
        )

    async def close(self) -> None:
        await self.intake_channel.close()
        await self.audit_channel.close()
