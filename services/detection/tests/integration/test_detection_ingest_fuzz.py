"""Every ingest endpoint fuzzed in-process on a real SQLite file: hypothesis
mutates realistic payloads (and sends junk), schemathesis walks the OpenAPI
spec. Whatever arrives, the answer is never a 5xx, and a refused request
leaves no row behind (no detection, outbox, inbox or alarm-state row)."""

from __future__ import annotations

import copy
import json
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from sqlalchemy import create_engine as create_sync_engine
from sqlmodel import SQLModel
from starlette.testclient import TestClient

import detection.adapters.tables
import svckit.tables
from detection.bootstrap import Reference
from detection.entrypoints.http_api import create_app
from detection.service_layer.unit_of_work import DetectionUnitOfWork
from svckit import db

FIXTURES = Path(__file__).parent.parent / "fixtures"
TABLES = ("detection_detection", "outbox", "inbox", "detection_iot_alarm")
FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
del detection.adapters.tables, svckit.tables  # imported for their tables


class Api:
    """The app on a SQLite file, driven through Starlette's test client."""

    def __init__(self, client: TestClient, path: Path) -> None:
        self.client = client
        self.path = path

    def counts(self) -> tuple[int, ...]:
        return counts(self.path)

    def post_checked(self, path: str, body: bytes, headers: dict[str, str]) -> int:
        """POST; fail on a 5xx or on a refusal that changed the store."""
        before = self.counts()
        response = self.client.post(path, content=body, headers=headers)
        assert response.status_code < 500, (path, body[:300], response.text)
        if response.status_code >= 400:
            assert self.counts() == before, (path, body[:300], response.text)
            assert response.json()["detail"]
        return response.status_code


def counts(path: Path) -> tuple[int, ...]:
    """Rows in every table a request may write."""
    with sqlite3.connect(path) as conn:
        return tuple(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, reference: Reference) -> Iterator[Api]:
    path = _store(tmp_path_factory.mktemp("fuzz"))
    engine = db.create_engine(f"sqlite+aiosqlite:///{path}")
    app = create_app(
        uow=lambda: DetectionUnitOfWork(engine, "detection"),
        policy=reference.policy,
        max_body_bytes=20_000,
        sources=reference.sources,
        iot=reference.iot,
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, path)
        assert client.portal is not None
        client.portal.call(engine.dispose)


# Strategies -----------------------------------------------------------------------

# Strings parsers trip on: lone surrogates (valid JSON escapes, invalid UTF-8), NUL,
# the key separator, far-future times, real codes, a long run.
TRICKY = st.sampled_from(
    [
        *("", "\ud800", "a\udfffb", "a\x00b", "x:y", "active", "inactive", "1.0", "E0105"),
        *("2999-01-01T00:00:00Z", "2025-06-01 10:20:00", "gas_ppm", "pothole", "z" * 300),
    ]
)
TEXT = st.text(max_size=40) | TRICKY
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


@st.composite
def mutated(draw: st.DrawFn, original: Any) -> Any:
    """The document with up to three of its nodes replaced by any JSON or removed."""
    doc = copy.deepcopy(original)
    for _ in range(draw(st.integers(0, 3))):
        paths = list(_paths(doc))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            parent[path[-1]] = draw(JSON_VALUES)
        else:
            del parent[path[-1]]
    return doc


def as_body(documents: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """Mostly JSON documents (as UTF-8, or as ASCII with escapes, which lets lone
    surrogates through as valid JSON); sometimes arbitrary bytes or truncated JSON."""
    encoded = st.tuples(documents, st.booleans()).map(
        lambda p: json.dumps(p[0], ensure_ascii=p[1]).encode("utf-8", "surrogatepass")
    )
    truncated = st.tuples(encoded, st.integers(0, 50)).map(lambda p: p[0][: p[1]])
    return st.one_of(encoded, encoded, encoded, truncated, st.binary(max_size=200))


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@st.composite
def cap_documents(draw: st.DrawFn) -> bytes:
    """A CAP fixture with element texts replaced, elements removed, or junk instead."""
    name = draw(st.sampled_from(sorted(p.name for p in FIXTURES.glob("cap_gas_leak_*.xml"))))
    root = ET.fromstring((FIXTURES / name).read_bytes())  # our own fixture: trusted
    elements = list(root.iter())
    for _ in range(draw(st.integers(0, 3))):
        element = draw(st.sampled_from(elements))
        if draw(st.booleans()):
            element.text = draw(st.text(max_size=60).filter(lambda t: "\x00" not in t))
        else:
            for parent in root.iter():
                if element in list(parent):
                    parent.remove(element)
                    break
    body = ET.tostring(root, encoding="utf-8")
    junk = draw(st.binary(max_size=200))
    return draw(st.sampled_from([body, body, body, body[: len(body) // 2], junk]))


IOT = {"device_id": "gas-hb-0001", "ts": "2025-06-01T10:00:00+08:00", "readings": {"gas_ppm": 80}}
GENERIC = {
    "source_id": "cam-0042",
    "source_event_id": "alarm-1",
    "source_kind": "video_ai",
    "category_code": "E0105",
    "latitude": 31.2389,
    "longitude": 121.4925,
    "observed_at": "2025-06-01T10:00:00+08:00",
    "confidence": 0.9,
}
JSON = {"content-type": "application/json"}
ENDPOINTS: dict[str, tuple[str, dict[str, str], Callable[[], st.SearchStrategy[bytes]]]] = {
    "detections": ("/ingest/detections", JSON, lambda: as_body(mutated(GENERIC))),
    "cap": ("/ingest/cap", {"content-type": "application/cap+xml"}, cap_documents),
    "cloudevents": (
        "/ingest/cloudevents",
        {"content-type": "application/cloudevents+json"},
        lambda: as_body(mutated(fixture("ce_structured.json"))),
    ),
    "cloudevents batch": (
        "/ingest/cloudevents",
        {"content-type": "application/cloudevents-batch+json"},
        lambda: as_body(st.lists(mutated(fixture("ce_structured.json")) | JSON_VALUES, max_size=4)),
    ),
    "hikvision": (
        "/ingest/video-ai/hikvision",
        JSON,
        lambda: as_body(
            mutated(fixture("hikvision_road_damage_active.json"))
            | mutated(fixture("hikvision_road_damage_inactive.json"))
        ),
    ),
    "generic video": (
        "/ingest/video-ai/generic",
        JSON,
        lambda: as_body(mutated(fixture("generic_pothole_active.json"))),
    ),
    "drone": (
        "/ingest/drone",
        JSON,
        lambda: as_body(mutated(fixture("dji_inspection_result.json"))),
    ),
    "iot": ("/ingest/iot", JSON, lambda: as_body(mutated(IOT))),
}


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_no_input_makes_an_endpoint_fail_or_write_half(api: Api, endpoint: str) -> None:
    path, headers, bodies = ENDPOINTS[endpoint]

    @FUZZ
    @given(body=bodies())
    def post(body: bytes) -> None:
        api.post_checked(path, body, headers)

    post()


HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)


def test_binary_cloudevents_headers_are_fuzzed_too(api: Api) -> None:
    data = fixture("ce_structured.json")["data"]
    base = {
        "ce-specversion": "1.0",
        "ce-id": "fuzz",
        "ce-source": "/fuzz",
        "ce-type": "org.cityops.detection.v1",
        "ce-time": "2025-06-01T11:02:00+08:00",
        "content-type": "application/json",
    }

    @FUZZ
    @given(
        headers=st.dictionaries(st.sampled_from([*sorted(base), "ce-x-y", "ce-ext"]), HEADER_TEXT),
        body=as_body(mutated(data)),
    )
    def post(headers: dict[str, str], body: bytes) -> None:
        api.post_checked("/ingest/cloudevents", body, base | headers)

    post()


def test_a_fuzzed_good_payload_is_still_accepted(api: Api) -> None:
    """The fuzzing reaches the happy path too: the fixtures themselves go through."""
    body = json.dumps(fixture("dji_inspection_result.json")).encode()
    assert api.post_checked("/ingest/drone", body, JSON) in (200, 202)


# Schemathesis ---------------------------------------------------------------------

schemathesis.openapi.media_type(
    "application/cap+xml", cap_documents(), aliases=["application/xml", "text/xml"]
)


def _store(folder: Path) -> Path:
    path = folder / "detection.db"
    sync = create_sync_engine(f"sqlite:///{path}")
    SQLModel.metadata.create_all(sync)
    sync.dispose()
    return path


OPERATIONS = [
    "POST /ingest/detections",
    "POST /ingest/cap",
    "POST /ingest/cloudevents",
    "POST /ingest/video-ai/{vendor}",
    "POST /ingest/drone",
    "POST /ingest/iot",
    "GET /healthz",
]


@pytest.fixture
def spec(tmp_path: Path, reference: Reference) -> tuple[Any, Path]:
    """The app's OpenAPI schema as schemathesis loads it, and the app's store.

    Schemathesis runs apps on its own (shared) event loop, so this app gets an
    engine and a store of its own rather than the ones the tests above drive."""
    path = _store(tmp_path)
    engine = db.create_engine(f"sqlite+aiosqlite:///{path}")
    app = create_app(
        uow=lambda: DetectionUnitOfWork(engine, "detection"),
        policy=reference.policy,
        max_body_bytes=20_000,
        sources=reference.sources,
        iot=reference.iot,
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app), path


def test_every_operation_of_the_spec_is_fuzzed(spec: tuple[Any, Path]) -> None:
    schema, _ = spec
    assert sorted(r.ok().label for r in schema.get_all_operations()) == sorted(OPERATIONS)


@pytest.mark.parametrize("label", OPERATIONS)
def test_the_openapi_spec_never_leads_to_a_server_error(spec: tuple[Any, Path], label: str) -> None:
    """Valid and (for JSON bodies) invalid requests generated from the spec."""
    schema, path = spec
    operation = schema.find_operation_by_label(label)
    # Schemathesis makes invalid data from JSON schemas; GET /healthz takes nothing and
    # CAP bodies come from the XML strategy registered above (junk included).
    json_body = any("json" in t for t in operation.get_request_payload_content_types())
    for mode in [GenerationMode.POSITIVE, GenerationMode.NEGATIVE][: 2 if json_body else 1]:
        # Modest counts: invalid cases of a large schema are slow to generate.
        examples = 30 if mode is GenerationMode.POSITIVE else 10

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def call(case: Any) -> None:
            before = counts(path)
            response = case.call()
            assert response.status_code < 500, (case.path, response.text)
            if response.status_code >= 400:
                assert counts(path) == before, (case.path, response.text)

        call()
