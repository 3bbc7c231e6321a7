"""Fixtures shared by workorders' tests: photos with EXIF made by Pillow, an
in-memory evidence store, the evidence rules built on them, and a department's
webhook receiver (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest

from cityops_tools.photos import field_photo
from svckit.reference import Catalogue, default_catalogue_path
from workorders.adapters.exif import read_photo_metadata
from workorders.domain.evidence import EvidenceIntegrityError, EvidencePolicy
from workorders.service_layer.ports import EvidenceRules

MakePhoto = Callable[..., bytes]
CITY_ZONE = ZoneInfo("Asia/Shanghai")


photo = field_photo


@pytest.fixture
def make_photo() -> MakePhoto:
    return photo


class MemoryEvidenceStore:
    """The object store's contract in memory; `objects` can be tampered with."""

    bucket = "test-evidence"

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.puts = 0

    async def put(self, key: str, data: bytes) -> None:
        self.puts += 1
        self.objects[key] = data

    async def read(self, key: str) -> bytes:
        if key not in self.objects:
            raise EvidenceIntegrityError(f"evidence object {key} is missing")
        return self.objects[key]

    async def sha256(self, key: str) -> str | None:
        data = self.objects.get(key)
        return hashlib.sha256(data).hexdigest() if data is not None else None

    async def delete(self, key: str) -> None:
        self.objects.pop(key, None)


@pytest.fixture
def memory_store() -> MemoryEvidenceStore:
    return MemoryEvidenceStore()


@pytest.fixture(scope="session")
def shipped_catalogue() -> Catalogue:
    return Catalogue.load(default_catalogue_path())


POLICY = EvidencePolicy(
    media_types=frozenset({"image/jpeg", "image/png", "application/pdf"}),
    max_bytes=256 * 1024,
    max_distance_m=500.0,
    slack_before=timedelta(hours=24),
    clock_skew=timedelta(minutes=10),
)


@pytest.fixture
def evidence_rules_factory(
    memory_store: MemoryEvidenceStore, shipped_catalogue: Catalogue
) -> Callable[..., EvidenceRules]:
    def build(*, require_uploaded_evidence: bool = False) -> EvidenceRules:
        return EvidenceRules(
            store=memory_store,
            policy=POLICY,
            read_metadata=functools.partial(read_photo_metadata, default_zone=CITY_ZONE),
            catalogue=shipped_catalogue,
            require_uploaded_evidence=require_uploaded_evidence,
        )

    return build


@dataclass
class Receiver:
    """A department's endpoint: answers with the scripted statuses, then 200,
    and keeps every request (lower-cased headers, raw body)."""

    statuses: list[int]
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(statuses=[500])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, raw))
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"boom" if status >= 500 else b"ok")

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/cityops/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
