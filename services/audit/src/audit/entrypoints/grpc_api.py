"""gRPC `cityops.audit.v1.AuditService`: translates requests to handler calls
and domain objects to protos; domain errors are mapped by svckit's interceptor."""

from __future__ import annotations

from collections.abc import Callable

from grpc import aio

from audit.adapters import dossier_render, export
from audit.domain.commands import CloseCase, VerifyCase
from audit.entrypoints import protos
from audit.service_layer import handlers, ledger
from audit.service_layer.context import AuditContext
from audit.service_layer.dossier import build_dossier
from audit.service_layer.evaluation import EvaluationReport, evaluate_period
from audit.service_layer.unit_of_work import AuditUnitOfWork
from cityops.audit.v1 import audit_service_pb2 as api
from cityops.audit.v1 import audit_service_pb2_grpc as api_grpc
from svckit.errors import InvalidArgumentError
from svckit.grpc.identity import caller_from_metadata

SERVICE_NAME = "cityops.audit.v1.AuditService"


class AuditServicer(api_grpc.AuditServiceServicer):
    """Timeline, the Merkle log, 核查 and 结案, evaluation, dossiers; the caller
    comes from metadata."""

    def __init__(self, uow: Callable[[], AuditUnitOfWork], ctx: AuditContext) -> None:
        self._uow = uow
        self._ctx = ctx

    async def GetTimeline(  # noqa: N802
        self, request: api.GetTimelineRequest, context: aio.ServicerContext
    ) -> api.GetTimelineResponse:
        caller = caller_from_metadata(context.invocation_metadata())
        entries = await handlers.get_timeline(request.case_id, caller, self._uow())
        return api.GetTimelineResponse(entries=[protos.entry_proto(e) for e in entries])

    async def VerifyLedger(  # noqa: N802
        self, request: api.VerifyLedgerRequest, context: aio.ServicerContext
    ) -> api.VerifyLedgerResponse:
        caller = caller_from_metadata(context.invocation_metadata())
        check = await ledger.verify_ledger(self._uow(), self._ctx.trusted, caller)
        return api.VerifyLedgerResponse(
            ok=check.ok,
            entries_checked=check.entries_checked,
            first_bad_sequence=check.first_bad_sequence,
            problem=check.problem,
            tree_size=check.tree_size,
            root_hash=check.root_hash,
            tree_heads_checked=check.tree_heads_checked,
            latest_tree_head=protos.head_proto(await ledger.latest_tree_head(self._uow())),
        )

    async def VerifyCase(  # noqa: N802
        self, request: api.VerifyCaseRequest, context: aio.ServicerContext
    ) -> api.VerifyCaseResponse:
        caller = caller_from_metadata(context.invocation_metadata())
        cmd = VerifyCase(
            request_id=request.request_id,
            case_id=request.case_id,
            passed=request.passed,
            note=request.note,
        )
        return await handlers.verify_case(cmd, caller, self._uow())

    async def CloseCase(  # noqa: N802
        self, request: api.CloseCaseRequest, context: aio.ServicerContext
    ) -> api.CloseCaseResponse:
        caller = caller_from_metadata(context.invocation_metadata())
        cmd = CloseCase(
            request_id=request.request_id,
            case_id=request.case_id,
            reason_code=request.reason_code,
        )
        return await handlers.close_case(cmd, caller, self._uow())

    async def GetInclusionProof(  # noqa: N802
        self, request: api.GetInclusionProofRequest, context: aio.ServicerContext
    ) -> api.GetInclusionProofResponse:
        caller = caller_from_metadata(context.invocation_metadata())
        which = request.WhichOneof("entry")
        if which is None or not (request.sequence or request.event_id):
            raise InvalidArgumentError("name the entry by sequence or event_id")
        proof = await ledger.inclusion_proof(
            self._uow(),
            self._ctx,
            caller,
            sequence=request.sequence,
            event_id=request.event_id,
            tree_size=request.tree_size,
        )
        return api.GetInclusionProofResponse(
            entry=protos.entry_proto(proof.entry),
            leaf_index=proof.leaf_index,
            tree_size=proof.tree_size,
            leaf_hash=bytes.fromhex(proof.entry.leaf_hash),
            audit_path=proof.audit_path,
            root_hash=proof.root_hash,
            tree_head=protos.head_proto(proof.head),
        )

    async def GetConsistencyProof(  # noqa: N802
        self, request: api.GetConsistencyProofRequest, context: aio.ServicerContext
    ) -> api.GetConsistencyProofResponse:
        caller = caller_from_metadata(context.invocation_metadata())
        proof = await ledger.consistency_proof(
            self._uow(), caller, request.first_tree_size, request.second_tree_size
        )
        return api.GetConsistencyProofResponse(
            first_tree_size=proof.first_size,
            second_tree_size=proof.second_size,
            proof=proof.proof,
            first_root_hash=proof.first_root,
            second_root_hash=proof.second_root,
            first_tree_head=protos.head_proto(proof.first_head),
            second_tree_head=protos.head_proto(proof.second_head),
        )

    async def GetSignedTreeHead(  # noqa: N802
        self, request: api.GetSignedTreeHeadRequest, context: aio.ServicerContext
    ) -> api.GetSignedTreeHeadResponse:
        caller = caller_from_metadata(context.invocation_metadata())
        head = await ledger.tree_head(self._uow(), caller, request.tree_size)
        return api.GetSignedTreeHeadResponse(tree_head=protos.head_proto(head))

    async def GetPublicKey(  # noqa: N802
        self, request: api.GetPublicKeyRequest, context: aio.ServicerContext
    ) -> api.GetPublicKeyResponse:
        caller_from_metadata(context.invocation_metadata())
        signer = self._ctx.signer
        return api.GetPublicKeyResponse(
            key_id=signer.key_id,
            public_key=signer.public_key,
            public_key_pem=signer.public_key_pem,
            algorithm="Ed25519",
            trusted_key_ids=self._ctx.trusted.key_ids,
        )

    async def Evaluate(  # noqa: N802
        self, request: api.EvaluateRequest, context: aio.ServicerContext
    ) -> api.EvaluateResponse:
        report = await self._report(request, context)
        return api.EvaluateResponse(
            report=protos.report_proto(
                report.evaluation,
                report.ledger_tree_size,
                report.ledger_root_hash,
                report.computed_at,
            )
        )

    async def ExportEvaluation(  # noqa: N802
        self, request: api.ExportEvaluationRequest, context: aio.ServicerContext
    ) -> api.ExportEvaluationResponse:
        writers = {
            api.EXPORT_FORMAT_CSV: ("csv", export.CSV_TYPE, export.to_csv),
            api.EXPORT_FORMAT_XLSX: ("xlsx", export.XLSX_TYPE, export.to_xlsx),
        }
        if request.format not in writers:
            raise InvalidArgumentError("format must be EXPORT_FORMAT_CSV or EXPORT_FORMAT_XLSX")
        extension, content_type, write = writers[request.format]
        report = await self._report(request, context)
        e = report.evaluation
        return api.ExportEvaluationResponse(
            content=write(e, report.ledger_tree_size, report.ledger_root_hash),
            content_type=content_type,
            filename=export.filename(e, extension),
            formula_version=e.formula_version,
        )

    async def _report(
        self,
        request: api.EvaluateRequest | api.ExportEvaluationRequest,
        context: aio.ServicerContext,
    ) -> EvaluationReport:
        caller = caller_from_metadata(context.invocation_metadata())
        period = protos.period(
            request.period_start,
            request.period_end,
            request.HasField("period_start"),
            request.HasField("period_end"),
        )
        return await evaluate_period(
            self._uow(), self._ctx, caller, period, protos.group_by(request.group_by)
        )

    async def GetDossier(  # noqa: N802
        self, request: api.GetDossierRequest, context: aio.ServicerContext
    ) -> api.GetDossierResponse:
        caller = caller_from_metadata(context.invocation_metadata())
        renderers = {
            api.DOSSIER_FORMAT_HTML: (
                "html",
                "text/html; charset=utf-8",
                dossier_render.dossier_html,
            ),
            api.DOSSIER_FORMAT_JSON: ("json", "application/json", dossier_render.dossier_json),
        }
        if request.format not in renderers:
            raise InvalidArgumentError("format must be DOSSIER_FORMAT_HTML or DOSSIER_FORMAT_JSON")
        extension, content_type, render = renderers[request.format]
        dossier = await build_dossier(
            self._uow(),
            request.case_id,
            self._ctx.trusted,
            signer=self._ctx.signer,
            caller=caller,
            category_name=self._ctx.translator.summary.category_name,
        )
        return api.GetDossierResponse(
            content=render(dossier),
            content_type=content_type,
            filename=f"dossier-{dossier.case_id}.{extension}",
            tree_head=protos.head_proto(dossier.head),
        )
