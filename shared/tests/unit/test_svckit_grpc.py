"""svckit.grpc: a real aio server on loopback (health, error mapping), the
client's default deadline, and the caller's identity in metadata."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cityops.common.v1 import common_pb2
from cityops.detection.v1 import detection_pb2, detection_service_pb2, detection_service_pb2_grpc
from svckit import errors
from svckit.grpc.client import DefaultDeadline, channel
from svckit.grpc.errors import status_for
from svckit.grpc.identity import DEPARTMENT, ROLE, ROLES, USER, Caller, caller_from_metadata
from svckit.grpc.server import GrpcServer

SERVICE = "cityops.detection.v1.DetectionService"
REFUSALS: dict[str, tuple[errors.DomainError, grpc.StatusCode]] = {
    "missing": (errors.NotFoundError("no detection missing"), grpc.StatusCode.NOT_FOUND),
    "blank": (
        errors.InvalidArgumentError("detection_id is required"),
        grpc.StatusCode.INVALID_ARGUMENT,
    ),
    "secret": (
        errors.PermissionDeniedError("not your department's detection"),
        grpc.StatusCode.PERMISSION_DENIED,
    ),
    "merged": (
        errors.FailedPreconditionError("detection merged into another case"),
        grpc.StatusCode.FAILED_PRECONDITION,
    ),
    "twice": (errors.AlreadyExistsError("detection exists"), grpc.StatusCode.ALREADY_EXISTS),
}


class Detections(detection_service_pb2_grpc.DetectionServiceServicer):
    """Answers by detection_id: refusals raise domain errors, as handlers do."""

    async def GetDetection(  # noqa: N802 (gRPC method name)
        self, request: detection_service_pb2.GetDetectionRequest, context: aio.ServicerContext
    ) -> detection_service_pb2.GetDetectionResponse:
        key = request.detection_id
        if key in REFUSALS:
            raise REFUSALS[key][0]
        if key == "crash":
            raise RuntimeError("a bug, not a refusal")
        if key.startswith("slow-"):
            await asyncio.sleep(float(key.removeprefix("slow-")))
        caller = caller_from_metadata(context.invocation_metadata()) if key == "whoami" else None
        return detection_service_pb2.GetDetectionResponse(
            detection=detection_pb2.Detection(
                detection_id=key,
                source_id=caller.user_id if caller else "",
                device_id=caller.department_id if caller else "",
                vendor=caller.role if caller else "",
            )
        )


@pytest.fixture
async def server() -> AsyncIterator[GrpcServer]:
    server = GrpcServer(
        "127.0.0.1",
        0,
        [
            (
                detection_service_pb2_grpc.add_DetectionServiceServicer_to_server,
                Detections(),
                SERVICE,
            )
        ],
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop(0)


@pytest.fixture
async def stub(server: GrpcServer) -> AsyncIterator[Any]:
    async with channel(server.address) as chan:
        yield detection_service_pb2_grpc.DetectionServiceStub(chan)


def ask(detection_id: str) -> detection_service_pb2.GetDetectionRequest:
    return detection_service_pb2.GetDetectionRequest(detection_id=detection_id)


async def test_the_server_binds_an_ephemeral_loopback_port(server: GrpcServer, stub: Any) -> None:
    assert server.port > 0 and server.address == f"127.0.0.1:{server.port}"
    answer = await stub.GetDetection(ask("det-1"))
    assert answer.detection.detection_id == "det-1"


@pytest.mark.parametrize("key", list(REFUSALS))
async def test_a_domain_error_reaches_the_client_as_its_status(stub: Any, key: str) -> None:
    error, code = REFUSALS[key]
    with pytest.raises(aio.AioRpcError) as refused:
        await stub.GetDetection(ask(key))
    assert refused.value.code() == code
    assert refused.value.details() == str(error)


async def test_any_other_exception_is_not_mapped(stub: Any) -> None:
    with pytest.raises(aio.AioRpcError) as failed:
        await stub.GetDetection(ask("crash"))
    assert failed.value.code() == grpc.StatusCode.UNKNOWN


async def test_health_reports_serving_for_the_server_and_each_service(
    server: GrpcServer,
) -> None:
    async with channel(server.address) as chan:
        health = health_pb2_grpc.HealthStub(chan)
        for name in ("", SERVICE):
            answer = await health.Check(health_pb2.HealthCheckRequest(service=name))
            assert answer.status == health_pb2.HealthCheckResponse.SERVING, name
        with pytest.raises(aio.AioRpcError) as unknown:
            await health.Check(health_pb2.HealthCheckRequest(service="cityops.none.v1.Nothing"))
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


async def test_the_identity_travels_in_metadata(stub: Any) -> None:
    caller = Caller("u-water", "department_user", "D01-water")
    answer = await stub.GetDetection(ask("whoami"), metadata=caller.metadata())
    detection = answer.detection
    assert (detection.source_id, detection.device_id, detection.vendor) == (
        "u-water",
        "D01-water",
        "department_user",
    )
    with pytest.raises(aio.AioRpcError) as anonymous:
        await stub.GetDetection(ask("whoami"))
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert USER in (anonymous.value.details() or "")


async def test_the_client_default_deadline_applies_and_an_explicit_one_wins(
    server: GrpcServer,
) -> None:
    async with channel(server.address, deadline_seconds=0.3) as chan:
        stub = detection_service_pb2_grpc.DetectionServiceStub(chan)
        await stub.GetDetection(ask("det-1"))
        started = asyncio.get_running_loop().time()
        with pytest.raises(aio.AioRpcError) as late:
            await stub.GetDetection(ask("slow-5"))
        assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert asyncio.get_running_loop().time() - started < 4
        answer = await stub.GetDetection(ask("slow-0.6"), timeout=5)
        assert answer.detection.detection_id == "slow-0.6"


async def test_default_deadline_sets_a_timeout_only_where_none_was_given() -> None:
    seen: list[aio.ClientCallDetails] = []

    async def continuation(details: aio.ClientCallDetails, request: Any) -> str:
        seen.append(details)
        return "answer"

    interceptor = DefaultDeadline(2.5)
    metadata = aio.Metadata((USER, "u-1"))
    for timeout in (None, 0.5):
        details = aio.ClientCallDetails("/pkg.Svc/Method", timeout, metadata, None, None)
        assert await interceptor.intercept_unary_unary(continuation, details, object()) == "answer"
    assert [d.timeout for d in seen] == [2.5, 0.5]
    assert all(d.method == "/pkg.Svc/Method" and d.metadata is metadata for d in seen)


def test_status_for_follows_the_class_hierarchy() -> None:
    class NoSuchCase(errors.NotFoundError):
        pass

    assert status_for(NoSuchCase("C-1")) == grpc.StatusCode.NOT_FOUND
    assert status_for(errors.UnauthenticatedError("who?")) == grpc.StatusCode.UNAUTHENTICATED
    assert status_for(errors.DomainError("unmapped")) == grpc.StatusCode.UNKNOWN


@pytest.mark.parametrize(
    "metadata",
    [
        ((USER, "op-1"), (ROLE, "operator")),
        ((USER, "op-1"), (DEPARTMENT, ""), (ROLE, "operator")),
        (("X-CityOps-User", "op-1"), ("X-CityOps-Role", "operator")),  # keys any case
        ((USER, b"op-1"), (ROLE, b"operator"), ("x-other", "ignored")),
    ],
)
def test_good_metadata_names_the_caller(metadata: tuple[tuple[str, Any], ...]) -> None:
    assert caller_from_metadata(metadata) == Caller(user_id="op-1", role="operator")


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        (None, "must carry"),
        ((), "must carry"),
        (((ROLE, "operator"),), "must carry"),
        (((USER, ""), (ROLE, "operator")), "must carry"),
        (((USER, "op-1"),), "must carry"),
        (((USER, "op-1"), (ROLE, "mayor")), "must carry"),
        (((USER, "op-1"), (ROLE, "Operator")), "must carry"),
        (((USER, "u-1"), (ROLE, "department_user")), "department user"),
        (((USER, "u-1"), (ROLE, "department_user"), (DEPARTMENT, "")), "department user"),
    ],
)
def test_incomplete_metadata_is_unauthenticated(
    metadata: tuple[tuple[str, str], ...] | None, reason: str
) -> None:
    with pytest.raises(errors.UnauthenticatedError, match=reason):
        caller_from_metadata(metadata)


@pytest.mark.parametrize("role", sorted(ROLES))
def test_caller_metadata_round_trips_and_maps_to_an_actor(role: str) -> None:
    caller = Caller(user_id=f"u-{role}", role=role, department_id="D01-water")
    assert caller_from_metadata(caller.metadata()) == caller
    actor = caller.to_actor()
    assert (actor.user_id, actor.department_id, actor.role) == (
        f"u-{role}",
        "D01-water",
        ROLES[role],
    )
    assert actor.role != common_pb2.ACTOR_ROLE_UNSPECIFIED


def test_a_caller_without_department_round_trips() -> None:
    caller = Caller("op-1", "operator")
    assert dict(caller.metadata()) == {USER: "op-1", DEPARTMENT: "", ROLE: "operator"}
    assert caller_from_metadata(caller.metadata()) == caller
    assert caller.to_actor() == common_pb2.Actor(
        user_id="op-1", role=common_pb2.ACTOR_ROLE_OPERATOR
    )
