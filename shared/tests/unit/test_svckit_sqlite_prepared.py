"""svckit.sqlite_prepared on a real SQLite file: a statement run a second time
runs prepared, gives what SQLAlchemy gives (rows, keys, column look-ups,
processed values, rowcount, exception classes), and anything it does not
cover is left to SQLAlchemy without having run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    insert,
    select,
    union,
    update,
)
from sqlalchemy.exc import IntegrityError, StatementError

from svckit import db, sqlite_prepared
from svckit.db import UtcDateTime
from svckit.sqlite_prepared import PreparedResult

METADATA = MetaData()
ITEMS = Table(
    "item",
    METADATA,
    Column("id", String, primary_key=True),
    Column("n", Integer, nullable=False),
    Column("at", UtcDateTime, nullable=True),
    Column("plain_at", DateTime, nullable=True),
    Column("body", LargeBinary, nullable=True),
)
STAMPED = Table(
    "stamped",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("label", String, nullable=False, default=lambda: "filled by Python"),
)
NOON = datetime(2026, 12, 7, 12, 0, 0, 123456, tzinfo=UTC)

BY_ID = select(ITEMS).where(ITEMS.c.id == bindparam("id"))
BY_IDS = (
    select(ITEMS.c.id, ITEMS.c.n, ITEMS.c.at)
    .where(ITEMS.c.id.in_(bindparam("ids", expanding=True)), ITEMS.c.n >= bindparam("least"))
    .order_by(ITEMS.c.id)
)
OPEN_FIRST = (
    select(ITEMS.c.id.label("key"), ITEMS.c.n)
    .where(ITEMS.c.body.is_not(None), ITEMS.c.n < 3)
    .order_by(ITEMS.c.n)
    .limit(2)
)
INSERT = insert(ITEMS)
SET_N = update(ITEMS).where(ITEMS.c.id == bindparam("key_")).values(n=bindparam("n"))
DROP = delete(ITEMS).where(ITEMS.c.n > bindparam("above"))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'prepared.db'}")
    METADATA.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            INSERT,
            [
                {"id": f"k{i}", "n": i, "at": NOON + timedelta(hours=i), "body": b"x" * i}
                for i in range(6)
            ],
        )
    yield engine
    engine.dispose()


def sqlalchemy_and_prepared(engine: Engine, statement: Any, params: Any) -> tuple[Any, Any]:
    """The statement's result through SQLAlchemy, then prepared (seen a second
    time if it was not yet), each in a transaction rolled back."""
    with engine.connect() as connection, connection.begin() as transaction:
        expected = connection.execute(statement, params, execution_options={"prebuffer_rows": True})
        transaction.rollback()
    with engine.connect() as connection, connection.begin() as transaction:
        prepared = sqlite_prepared.execute(connection, statement, params)
        prepared = prepared or sqlite_prepared.execute(connection, statement, params)
        assert isinstance(prepared, PreparedResult), "the second sight runs prepared"
        transaction.rollback()
    return expected, prepared


def test_a_statement_is_prepared_when_it_runs_a_second_time(engine: Engine) -> None:
    with engine.connect() as connection, connection.begin():
        first, second = (sqlite_prepared.execute(connection, BY_ID, {"id": "k1"}) for _ in "12")
        other_names = sqlite_prepared.execute(connection, BY_ID, {"id": "k1", "extra": 1})
    assert first is None and isinstance(second, PreparedResult)
    assert other_names is None  # another set of parameter names is another statement


def test_a_select_by_key_gives_sqlalchemys_row(engine: Engine) -> None:
    expected, prepared = sqlalchemy_and_prepared(engine, BY_ID, {"id": "k2"})
    want, got = expected.one(), prepared.one()
    assert got == want
    assert tuple(got) == ("k2", 2, NOON + timedelta(hours=2), None, b"xx")
    assert got._mapping[ITEMS.c.at] == want._mapping[ITEMS.c.at]
    assert got.at.tzinfo is UTC  # UtcDateTime's result processor ran
    assert list(got._mapping) == list(want._mapping)


def test_expanding_in_lists_of_any_length(engine: Engine) -> None:
    for ids in (["k1"], ["k0", "k3", "k5", "nope"], [f"k{i}" for i in range(6)]):
        expected, prepared = sqlalchemy_and_prepared(engine, BY_IDS, {"ids": ids, "least": 1})
        assert prepared.all() == expected.all()


def test_literals_labels_and_limit_carried_by_the_statement(engine: Engine) -> None:
    expected, prepared = sqlalchemy_and_prepared(engine, OPEN_FIRST, {})
    rows = prepared.mappings().all()
    assert rows == expected.mappings().all() == [{"key": "k0", "n": 0}, {"key": "k1", "n": 1}]


def test_a_union_of_queries(engine: Engine) -> None:
    both = union(
        select(ITEMS.c.id).where(ITEMS.c.n == bindparam("low")),
        select(ITEMS.c.id).where(ITEMS.c.id.in_(bindparam("ids", expanding=True))),
    ).order_by("id")
    expected, prepared = sqlalchemy_and_prepared(engine, both, {"low": 0, "ids": ["k4", "k2"]})
    assert prepared.scalars().all() == expected.scalars().all() == ["k0", "k2", "k4"]


def test_scalars_and_first(engine: Engine) -> None:
    expected, prepared = sqlalchemy_and_prepared(engine, BY_IDS, {"ids": ["k4", "k2"], "least": 0})
    assert prepared.scalars().all() == expected.scalars().all() == ["k2", "k4"]


def test_updates_and_deletes_write_the_same_and_count_rows(engine: Engine) -> None:
    with engine.begin() as connection:
        for n in (-10, -11):  # the second runs prepared
            result = sqlite_prepared.run(connection, SET_N, {"key_": "k1", "n": n})
            assert result.rowcount == 1
        missing = sqlite_prepared.run(connection, SET_N, {"key_": "nope", "n": 1})
        assert isinstance(missing, PreparedResult) and missing.rowcount == 0
        assert sqlite_prepared.run(connection, DROP, {"above": 3}).rowcount == 2
        assert sqlite_prepared.run(connection, DROP, {"above": 2}).rowcount == 1
    with engine.connect() as connection:
        rows = connection.execute(select(ITEMS.c.id, ITEMS.c.n).order_by(ITEMS.c.id)).all()
    assert rows == [("k0", 0), ("k1", -11), ("k2", 2)]


def test_executemany_insert_with_processed_values(engine: Engine) -> None:
    later = NOON + timedelta(days=1)
    with engine.begin() as connection:
        for batch in ("a", "b", "c"):
            rows = [
                {"id": f"{batch}{i}", "n": i, "at": later, "plain_at": later.replace(tzinfo=None)}
                for i in range(3)
            ]
            sqlite_prepared.run(connection, INSERT, rows)
    with engine.connect() as connection:
        stored = connection.execute(select(ITEMS).where(ITEMS.c.id.like("c%"))).all()
        raw = connection.exec_driver_sql("SELECT at FROM item WHERE id = 'c1'").scalar_one()
    assert [(r.id, r.at, r.plain_at) for r in stored] == [
        (f"c{i}", later, later.replace(tzinfo=None)) for i in range(3)
    ]
    assert raw == "2026-12-08 12:00:00.123456"  # stored as SQLAlchemy stores it


def test_constraint_violations_raise_sqlalchemys_classes(engine: Engine) -> None:
    with engine.begin() as connection:
        sqlite_prepared.run(connection, INSERT, {"id": "new1", "n": 1})
        sqlite_prepared.run(connection, INSERT, {"id": "new2", "n": 1})
        with pytest.raises(IntegrityError):
            sqlite_prepared.run(connection, INSERT, {"id": "new2", "n": 1})
        assert sqlite_prepared.execute(connection, INSERT, {"id": "new3", "n": 1}) is not None


def test_bad_values_are_left_to_sqlalchemy_which_says_what_is_wrong(engine: Engine) -> None:
    with engine.begin() as connection:
        for _ in range(2):
            sqlite_prepared.run(connection, SET_N, {"key_": "k0", "n": 1})
        naive = {"id": "n", "n": 1, "at": datetime(2026, 1, 1)}
        assert sqlite_prepared.execute(connection, BY_ID, {"idx": "k1"}) is None
        for _ in range(2):
            sqlite_prepared.run(connection, INSERT, {"id": "ok", "n": 1, "at": NOON})
            connection.execute(delete(ITEMS).where(ITEMS.c.id == "ok"))
        assert sqlite_prepared.execute(connection, INSERT, naive) is None
        with pytest.raises(StatementError, match="naive datetime"):
            sqlite_prepared.run(connection, INSERT, naive)


def statement_runs_prepared(engine: Engine, statement: Any, params: Any) -> bool:
    """Whether any of three runs (through `run`, so each does run) was prepared."""
    with engine.connect() as connection, connection.begin() as transaction:
        results = [sqlite_prepared.run(connection, statement, params) for _ in range(3)]
        transaction.rollback()
    return any(isinstance(result, PreparedResult) for result in results)


def test_what_sqlalchemy_keeps(engine: Engine) -> None:
    assert statement_runs_prepared(engine, BY_ID, {"id": "k1"})
    # Python-side defaults to fill, RETURNING, execution options, empty IN lists,
    # an IN list in an executemany:
    assert not statement_runs_prepared(engine, insert(STAMPED), {})
    assert not statement_runs_prepared(
        engine, STAMPED.insert().returning(STAMPED.c.id), {"label": "r"}
    )
    assert not statement_runs_prepared(engine, BY_ID.execution_options(x=1), {"id": "k1"})
    assert not statement_runs_prepared(engine, BY_IDS, {"ids": [], "least": 0})
    assert not statement_runs_prepared(engine, DROP.where(ITEMS.c.id.in_(bindparam("ids", expanding=True))), [{"above": 1, "ids": ["k1"]}])  # fmt: skip
    # A statement built per call never repeats:
    with engine.connect() as connection, connection.begin():
        for _ in range(3):
            fresh = select(ITEMS).where(ITEMS.c.id == bindparam("id"))
            assert sqlite_prepared.execute(connection, fresh, {"id": "k1"}) is None


def test_an_engine_with_statement_events_sees_every_statement(engine: Engine) -> None:
    seen: list[str] = []

    def listener(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", listener)
    assert not statement_runs_prepared(engine, BY_ID, {"id": "k1"})
    assert len(seen) == 3


def test_outside_a_transaction_sqlalchemy_runs_it(engine: Engine) -> None:
    with engine.connect() as connection:
        assert all(
            sqlite_prepared.execute(connection, BY_ID, {"id": "k1"}) is None for _ in range(3)
        )


async def test_the_services_sessions_run_repeated_statements_prepared(tmp_path: Path) -> None:
    """Through svckit's own engine, twin and session (the pragma listeners are
    pool events, which leave statements prepared)."""
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'service.db'}")
    try:
        await db.create_tables(engine, METADATA)
        results = []
        async with db.session_factory(engine)() as session:
            connection = await session.connection()
            await connection.execute(INSERT, {"id": "s1", "n": 1, "at": NOON})
            for _ in range(2):
                results.append(await connection.execute(BY_ID, {"id": "s1"}))
            await session.commit()
        assert not isinstance(results[0], PreparedResult)
        assert isinstance(results[1], PreparedResult)
        assert results[0].all() == results[1].all() == [("s1", 1, NOON, None, None)]
    finally:
        await engine.dispose()
