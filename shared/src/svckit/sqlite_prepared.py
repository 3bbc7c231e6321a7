"""Prepared Core statements on a SQLite file: compiled once, then run straight
on the DBAPI cursor.

The services build their hot statements once, as module constants, yet
SQLAlchemy's `Connection.execute` redoes on every call what only needs doing
once for such a statement: the cache key, the compiled-cache look-up, an
execution context, the parameter dictionary, the result's metadata. On SQLite,
where the statement itself takes a few microseconds, that was most of the time
a service spent in SQLAlchemy (docs/performance.md, "Prepared statements").

A statement is prepared when the same object runs a second time with the same
parameter names. It then runs with the SQL, the bind processors and the result
processors SQLAlchemy compiled for it, gives back the same `Row` objects, and
raises SQLAlchemy's exception classes. Whatever this does not cover still goes
through SQLAlchemy: a statement built per call, Python-side column defaults to
fill, RETURNING, tuple or empty `IN` lists, literal-execute parameters,
execution options, and any engine with statement events (the tests that count
statements listen there, and so see every statement).

Preparing costs a compile (a few hundred microseconds), which SQLAlchemy's own
cache would have saved: a statement built per call and then run several
times within that call pays it each call. Build such a statement once.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import CompoundSelect, Connection, Delete, Engine, Insert, Select, Update
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import immutabledict

_Statement = Select[Any] | CompoundSelect[Any] | Insert | Update | Delete
_QUERIES = (Select, CompoundSelect)
_KINDS = (*_QUERIES, Insert, Update, Delete)
_LIMIT = 2048  # statements remembered per engine; a statement built per call never repeats
_NO_ROWS = SimpleResultMetaData([])
# Results fetched whole, as `AsyncSession`'s are: usable after the transaction.
PREBUFFER = immutabledict({"prebuffer_rows": True})


class PreparedResult(IteratorResult[Any]):
    """A buffered result, as SQLAlchemy's prebuffered ones are, with `rowcount`."""

    rowcount: int


@dataclass(slots=True)
class _Prepared:
    statement: _Statement  # held, so its id() cannot be reused while prepared
    sql: str
    # One slot per `?` group in positional order: (name, processor, constant,
    # expanding). A constant is a literal the statement carries, processed once.
    slots: list[tuple[str, Callable[[Any], Any] | None, Any, bool]]
    metadata: SimpleResultMetaData | None  # None: the statement returns no rows
    has_in_lists: bool = field(init=False)
    expanded: dict[tuple[int, ...], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.has_in_lists = any(expanding for *_, expanding in self.slots)

    def sql_for(self, lengths: tuple[int, ...]) -> str:
        """The SQL with each expanding `IN` given as many `?` as it has values."""
        sql = self.expanded.get(lengths)
        if sql is None:
            sql = self.sql
            names = [name for name, _, _, expanding in self.slots if expanding]
            for name, length in zip(names, lengths, strict=True):
                sql = sql.replace(f"__[POSTCOMPILE_{name}]", ", ".join("?" * length), 1)
            self.expanded[lengths] = sql
        return sql

    def values(self, params: Mapping[str, Any], lengths: list[int] | None) -> list[Any]:
        values: list[Any] = []
        for name, processor, constant, expanding in self.slots:
            if constant is not _SUPPLIED:
                values.append(constant)
            elif expanding:
                items = params[name]
                if lengths is not None:
                    lengths.append(len(items))
                values.extend(map(processor, items) if processor else items)
            else:
                value = params[name]
                values.append(processor(value) if processor else value)
        return values


_SUPPLIED = object()


@dataclass(slots=True)
class _Statements:
    """One engine's prepared statements, and the ones seen once so far."""

    prepared: dict[tuple[int, tuple[str, ...], bool], _Prepared | None] = field(
        default_factory=dict
    )
    # Held weakly: a statement built per call must die with its call.
    seen_once: dict[tuple[int, tuple[str, ...], bool], weakref.ref[_Statement]] = field(
        default_factory=dict
    )


_ENGINES: weakref.WeakKeyDictionary[Engine, _Statements] = weakref.WeakKeyDictionary()


def execute(
    connection: Connection,
    statement: Any,
    parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> PreparedResult | None:
    """Run `statement` prepared on `connection` (a SQLite connection in a
    transaction), or return None, having run nothing, when SQLAlchemy has to."""
    if not isinstance(statement, _KINDS) or statement._execution_options:
        return None
    engine = connection.engine
    if engine._has_events or connection._has_events or not connection.in_transaction():
        return None
    many = isinstance(parameters, Sequence)
    if many:
        if not parameters:
            return None
        first: Mapping[str, Any] = parameters[0]  # type: ignore[index]
    else:
        first = parameters or {}  # type: ignore[assignment]
    key = (id(statement), tuple(first), many)
    statements = _ENGINES.get(engine)
    if statements is None:
        statements = _ENGINES[engine] = _Statements()
    if key in statements.prepared:
        # A prepared entry holds its statement, so the id is this statement's.
        prepared = statements.prepared[key]
    else:
        prepared = _prepare_on_second_sight(statements, key, statement, connection)
    if prepared is None:
        return None  # seen once so far, or not preparable
    return _run(prepared, connection, parameters, many)


def run(
    connection: Connection,
    statement: Any,
    parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> Any:
    """Run `statement` prepared if it can be, else through SQLAlchemy (buffered)."""
    result = execute(connection, statement, parameters)
    if result is not None:
        return result
    return connection.execute(statement, parameters, execution_options=PREBUFFER)


def _prepare_on_second_sight(
    statements: _Statements,
    key: tuple[int, tuple[str, ...], bool],
    statement: _Statement,
    connection: Connection,
) -> _Prepared | None:
    seen = statements.seen_once.get(key)
    if seen is None or seen() is not statement:
        if len(statements.seen_once) >= _LIMIT:
            statements.seen_once.clear()
        statements.seen_once[key] = weakref.ref(statement)
        return None
    del statements.seen_once[key]
    if len(statements.prepared) >= _LIMIT:
        statements.prepared.clear()
    prepared = _prepare(statement, list(key[1]), key[2], connection)
    statements.prepared[key] = prepared
    return prepared


def _prepare(
    statement: _Statement, names: list[str], many: bool, connection: Connection
) -> _Prepared | None:
    dialect = connection.dialect
    if dialect.name != "sqlite" or dialect.paramstyle != "qmark" or statement._propagate_attrs:
        return None
    try:
        compiled = statement.compile(dialect=dialect, column_keys=names, for_executemany=many)
    except Exception:
        return None  # SQLAlchemy will raise the same error, properly
    assert isinstance(compiled, SQLCompiler)
    if (
        compiled.positiontup is None
        or compiled.literal_execute_params
        or compiled.insert_prefetch
        or compiled.update_prefetch
        or compiled.escaped_bind_names
        or (not isinstance(statement, _QUERIES) and statement._returning)
    ):
        return None
    expanding = {bind.key for bind in compiled.post_compile_params}
    processors = compiled._bind_processors
    supplied = set(names)
    slots: list[tuple[str, Callable[[Any], Any] | None, Any, bool]] = []
    for name in compiled.positiontup:
        bind = compiled.binds[name]
        processor = processors.get(name)
        if bind.type._is_tuple_type or bind.callable is not None:
            return None
        if name in supplied:
            slots.append((name, processor, _SUPPLIED, name in expanding))  # type: ignore[arg-type]
        elif bind.required or name in expanding:
            return None  # SQLAlchemy raises the missing-parameter error
        else:
            value = bind.effective_value
            slots.append((name, None, processor(value) if processor else value, False))  # type: ignore[operator]
    metadata = _result_metadata(compiled, dialect) if isinstance(statement, _QUERIES) else None
    if isinstance(statement, _QUERIES) and metadata is None:
        return None
    return _Prepared(statement, compiled.string, slots, metadata)


def _result_metadata(compiled: SQLCompiler, dialect: Any) -> SimpleResultMetaData | None:
    """Keys, column objects and result processors as SQLAlchemy derives them
    for a compiled SELECT whose columns match the cursor's by position."""
    if (
        not compiled._ordered_columns
        or compiled._textual_ordered_columns
        or compiled._loose_column_name_matching
    ):
        return None
    columns = compiled._result_columns
    keys = [column.keyname for column in columns]
    if len(set(keys)) != len(keys):
        return None
    return SimpleResultMetaData(
        keys,
        extra=[column.objects for column in columns],
        _processors=[column.type._cached_result_processor(dialect, None) for column in columns],
    )


def _run(
    prepared: _Prepared,
    connection: Connection,
    parameters: Any,
    many: bool,
) -> PreparedResult | None:
    sql = prepared.sql
    try:
        if many:
            if prepared.has_in_lists:
                return None
            rows_in = [prepared.values(params, None) for params in parameters]
        else:
            lengths: list[int] | None = [] if prepared.has_in_lists else None
            values = prepared.values(parameters or {}, lengths)
            if lengths is not None:
                if 0 in lengths:
                    return None  # SQLAlchemy renders an empty IN its own way
                sql = prepared.sql_for(tuple(lengths))
    except Exception:
        # A parameter missing, of the wrong shape, or refused by its type's
        # processor: nothing ran, and SQLAlchemy raises its own error for it.
        return None
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    dialect = connection.dialect
    try:
        try:
            if many:
                cursor.executemany(sql, rows_in)
            else:
                cursor.execute(sql, values)
            rows = cursor.fetchall() if prepared.metadata is not None else ()
        except dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(
                sql, parameters, exc, dialect.loaded_dbapi.Error, dialect=dialect, ismulti=many
            ) from exc
        result = PreparedResult(prepared.metadata or _NO_ROWS, iter(rows))
        result.rowcount = cursor.rowcount
        return result
    finally:
        cursor.close()
