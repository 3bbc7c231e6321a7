"""The command line answers from the shipped YAML with no server, or from the service's store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dispatch.entrypoints.main import main

IN_D02 = "--lat 31.23 --lon 121.45"


def run(capsys: pytest.CaptureFixture[str], args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(["who-would-receive", *args.split()])
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def test_answer_for_a_point_and_date(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, f"--category E0506 {IN_D02} --at 2025-12-31 --json")
    answer = json.loads(out)
    assert code == 0
    assert answer["department_id"] == "D02-street_office"
    assert answer["rule"] == "street_office-default" and answer["date"] == "2025-12-31"
    assert answer["rule_version"] == "1"
    code, out, _ = run(capsys, f"--category E0506 {IN_D02} --at 2026-01-01")
    assert code == 0 and "D02-transport" in out and "D02-bike-parking-2026" in out


def test_a_joint_case_shows_its_assisting_departments(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "--category E0401 --lat 31.235 --lon 121.544 --urgency immediate --json"
    )
    answer = json.loads(out)
    assert code == 0 and answer["assists"] == "D01-water, D01-transport"
    assert answer["stage_hours"]["disposal"] == 4.0


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            f"--category E0105 {IN_D02} --at 2020-01-01",
            1,
            "no responsibility rule covers E0105 in D02 on 2020-01-01",
        ),
        (f"--category X {IN_D02}", 2, "unknown category code"),
        ("--category E0105 --lat 0 --lon 0", 2, "outside Sample City"),
        (f"--category E0105 {IN_D02} --at soon", 2, "not a date"),
    ],
)
def test_errors_go_to_stderr_with_an_exit_code(
    capsys: pytest.CaptureFixture[str], args: str, code: int, message: str
) -> None:
    exit_code, out, err = run(capsys, args)
    assert (exit_code, out) == (code, "")
    assert message in err


def test_the_store_must_hold_a_catalogue(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYOPS_DATA_DIR", str(tmp_path))
    code, _, err = run(capsys, f"--category E0506 {IN_D02} --store")
    assert code == 2 and "holds no rules yet" in err
