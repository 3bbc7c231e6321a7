"""Fault injection at CI size: 20 seeded episodes of SIGKILL / SIGTERM /
SIGSTOP (longer than the ack wait) on random services and nats-server under
load, then the history check: lost=0, duplicated=0, no consumer stuck.
`make chaos` runs a bigger one."""

from __future__ import annotations

from pathlib import Path

import pytest

from cityops_tools.chaos import Chaos, chaos_stack

EPISODES = 20


@pytest.mark.timeout(900)
async def test_faults_lose_nothing_and_duplicate_nothing(tmp_path: Path) -> None:
    stack = chaos_stack(tmp_path / "chaos")
    try:
        stack.start(timeout=120)
        report = await Chaos(stack, seed=2026).run(EPISODES)
    finally:
        stack.stop()
    print(report.summary(), *report.episodes, sep="\n")
    assert len(report.episodes) == EPISODES
    assert report.accepted, "the load generator got nothing accepted"
    assert report.lost == []
    assert report.duplicated == []
    assert report.stuck == []
