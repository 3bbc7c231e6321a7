"""Dead letters: list them, and replay them once the cause is fixed.

Replay republishes the stored message to its subject with its original
CloudEvents headers (so the same `ce-id`) under a new `Nats-Msg-Id`, then
deletes the row. Every consumer of that stream receives it again; those that
handled it before skip it through their inbox, the one that failed handles it
now. A crash between publish and delete only replays it again: harmless.

    python -m svckit.deadletters list   --database-url sqlite+aiosqlite:///var/db/intake.db
    python -m svckit.deadletters replay --database-url … --nats-url nats://127.0.0.1:4222 [--id 3 --id 4 | --all]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from nats.js import JetStreamContext
from sqlalchemy import delete, func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from svckit import db
from svckit.clock import new_id
from svckit.messaging import jetstream
from svckit.metrics import DEAD_LETTERS_WAITING
from svckit.tables import DeadLetter


async def list_dead_letters(engine: AsyncEngine) -> list[DeadLetter]:
    """All of them, oldest first (the CLI and replay; the API pages)."""
    async with db.session_factory(engine)() as session:
        rows = await session.exec(select(DeadLetter).order_by(col(DeadLetter.id)))
        return list(rows.all())


async def dead_letter_page(engine: AsyncEngine, limit: int) -> tuple[list[DeadLetter], int]:
    """The oldest `limit` dead letters and how many wait in all, read in one
    transaction so the two agree while consumers keep adding rows."""
    async with db.session_factory(engine)() as session:
        rows = await session.exec(select(DeadLetter).order_by(col(DeadLetter.id)).limit(limit))
        letters = list(rows.all())
        total = int((await session.exec(select(func.count()).select_from(DeadLetter))).one())
        return letters, total


async def count_dead_letters(engine: AsyncEngine) -> int:
    async with db.session_factory(engine)() as session:
        return int((await session.exec(select(func.count()).select_from(DeadLetter))).one())


async def sample_waiting(engine: AsyncEngine) -> None:
    """The waiting gauge: the counter of dead-lettered messages only grows
    and restarts with the process; this says how many still need a look."""
    DEAD_LETTERS_WAITING.set(await count_dead_letters(engine))


async def replay(
    engine: AsyncEngine, js: JetStreamContext, ids: Sequence[int] | None = None
) -> int:
    """Republish the chosen dead letters (all when `ids` is None); returns how many."""
    replayed = 0
    for letter in await list_dead_letters(engine):
        if ids is not None and letter.id not in ids:
            continue
        headers: dict[str, str] = json.loads(letter.headers)
        headers["Nats-Msg-Id"] = new_id("replay-")
        await js.publish(letter.subject, letter.body, headers=headers)
        async with db.write_lock(engine), db.session_factory(engine)() as session:
            await session.exec(delete(DeadLetter).where(col(DeadLetter.id) == letter.id))
            await session.commit()
        replayed += 1
    return replayed


async def _main(args: argparse.Namespace) -> int:
    engine = db.create_engine(args.database_url)
    try:
        if args.command == "list":
            for letter in await list_dead_letters(engine):
                print(
                    f"{letter.id}\t{letter.failed_at.isoformat()}\t{letter.consumer}\t"
                    f"{letter.subject}\tdeliveries={letter.deliveries}\t{letter.reason}"
                )
            return 0
        nc = await jetstream.connect(args.nats_url, name="deadletters")
        try:
            count = await replay(engine, nc.jetstream(), None if args.all else args.id)
        finally:
            await nc.close()
        print(f"replayed {count} dead letter(s)")
        return 0
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--nats-url", default="nats://127.0.0.1:4222")
    parser.add_argument("--id", type=int, action="append", help="replay only these (repeatable)")
    parser.add_argument("--all", action="store_true", help="replay every dead letter")
    args = parser.parse_args(argv)
    if args.command == "replay" and not (args.all or args.id):
        parser.error("replay needs --id N (repeatable) or --all")
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
