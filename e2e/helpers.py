"""Polling and client helpers for the e2e suite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cityops.intake.v1 import case_pb2
from cityops.intake.v1 import intake_service_pb2 as intake_pb
from cityops.intake.v1 import intake_service_pb2_grpc as intake_grpc
from cityops_tools.devstack import Stack
from cityops_tools.loop import OPERATOR
from svckit.grpc.client import channel
from svckit.testing.polling import eventually


async def all_cases(stack: Stack) -> list[case_pb2.Case]:
    stub = intake_grpc.IntakeServiceStub(channel(stack.ports.grpc_target("intake")))
    cases: list[case_pb2.Case] = []
    token = ""
    while True:
        reply = await stub.ListCases(
            intake_pb.ListCasesRequest(page_size=500, page_token=token),
            metadata=OPERATOR.metadata(),
        )
        cases.extend(reply.cases)
        token = reply.next_page_token
        if not token:
            return cases


def read_spans(span_dir: Path) -> list[dict[str, Any]]:
    """Spans every process wrote to its span file (JSON lines)."""
    spans: list[dict[str, Any]] = []
    for path in sorted(span_dir.glob("*.jsonl")):
        spans.extend(
            json.loads(line)
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        )
    return spans


__all__ = ["all_cases", "eventually", "read_spans"]
