"""What audit's same-source query costs per look as cases awaiting
verification pile up, with and without the detection's device and component
indexes (audit migration bbf7f5dd0c82):

    uv run python -m bench.samesource [--awaiting 500 5000] [--looks 200]

Every look a machine reports asks which cases awaiting verification were filed
from a detection of the same source, device, component or detection. With an
`OR` over those columns SQLite needs an index on each; without one it walks
every awaiting case and its links. Builds audit's tables in memory (three
detections per case, 300 sources, 700 devices), then times the query the
repository runs for an IoT look. Prints milliseconds per look; asserts
nothing.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from sqlalchemy import Engine, create_engine, insert
from sqlmodel import SQLModel

# The statement the repository runs for a look (built once per identity set).
from audit.adapters.repository import _same_source_query
from audit.adapters.tables import CaseRow, DetectionCaseRow, DetectionRow
from audit.domain.model import CaseStatus

_LOOK_IDENTITIES = ("source_id", "device_id", "detection_id")  # an IoT look's
_TABLES = (CaseRow, DetectionRow, DetectionCaseRow)
_DEVICE_INDEXES = ("ix_audit_detection_device_id", "ix_audit_detection_component_id")


def _city(awaiting: int, indexed: bool) -> Engine:
    engine = create_engine("sqlite://")
    SQLModel.metadata.create_all(engine, tables=[t.__table__ for t in _TABLES])  # type: ignore[union-attr]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as connection:
        if not indexed:
            for index in _DEVICE_INDEXES:
                connection.exec_driver_sql(f"DROP INDEX {index}")
        connection.execute(
            insert(CaseRow),
            [
                {
                    "case_id": f"C{i}",
                    "status": CaseStatus.AWAITING_VERIFICATION.value,
                    "updated_at": now,
                    "category_code": "E0501",
                }
                for i in range(awaiting)
            ],
        )
        links = [(f"D{i}-{k}", f"C{i}", i) for i in range(awaiting) for k in range(3)]
        connection.execute(
            insert(DetectionRow),
            [
                {"detection_id": d, "source_id": f"src{i % 300}", "device_id": f"dev{i % 700}"}
                for d, _, i in links
            ],
        )
        connection.execute(
            insert(DetectionCaseRow), [{"detection_id": d, "case_id": c} for d, c, _ in links]
        )
    return engine


def per_look(engine: Engine, looks: int) -> tuple[float, int]:
    query = _same_source_query(_LOOK_IDENTITIES, False)
    found = 0
    with engine.connect() as connection:
        started = time.perf_counter()
        for i in range(looks):
            params = {"source_id": f"src{i}", "device_id": f"dev{i}", "detection_id": f"new{i}"}
            found += len(connection.execute(query, params).scalars().all())
        return (time.perf_counter() - started) / looks, found // looks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--awaiting", type=int, nargs="+", default=[500, 5000])
    parser.add_argument("--looks", type=int, default=200)
    args = parser.parse_args()
    for awaiting in args.awaiting:
        for indexed in (False, True):
            engine = _city(awaiting, indexed)
            seconds, found = per_look(engine, args.looks)
            engine.dispose()
            label = "indexed" if indexed else "without device/component indexes"
            print(
                f"{awaiting:6d} cases awaiting verification, {label:<33} "
                f"{seconds * 1e3:8.3f} ms per look ({found} cases found per look)"
            )


if __name__ == "__main__":
    main()
