"""The housekeeping loop: backlogs are worked off at once, failures retried,
stop is prompt."""

from __future__ import annotations

import asyncio

from svckit.periodic import Periodic
from svckit.testing.polling import eventually


async def test_a_full_batch_runs_again_at_once_then_waits_for_the_interval() -> None:
    backlog = [True, True, False]
    calls: list[float] = []
    loop = asyncio.get_running_loop()

    async def job() -> bool:
        calls.append(loop.time())
        return backlog.pop(0) if backlog else False

    periodic = Periodic("test-job", job, interval_seconds=3600)
    await periodic.start()
    try:
        await eventually(lambda: periodic.runs >= 3, timeout=5)
        await asyncio.sleep(0.2)
        assert len(calls) == 3  # the fourth run waits for the (long) interval
    finally:
        await asyncio.wait_for(periodic.stop(), timeout=2)


async def test_a_failing_job_is_retried_and_does_not_end_the_loop() -> None:
    outcomes: list[str] = []

    async def job() -> bool:
        outcomes.append("ran")
        if len(outcomes) == 1:
            raise RuntimeError("store briefly unavailable")
        return False

    periodic = Periodic("flaky", job, interval_seconds=0.01)
    await periodic.start()
    try:
        await eventually(lambda: len(outcomes) >= 3, timeout=5)
    finally:
        await periodic.stop()
    assert periodic.runs >= 3
