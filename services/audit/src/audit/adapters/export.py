"""An evaluation as CSV (one row per group × figure, with its cases) or XLSX
(a summary sheet, the drill-down, the exclusions and the report's basis)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from audit.domain.evaluation import COMPOSITE, RATES, Evaluation, Figure
from audit.domain.hashing import canonical_time

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LONG_HEADER = (
    "group_by",
    "group",
    "figure",
    "name_zh",
    "value",
    "defined",
    "numerator",
    "denominator",
    "case_ids",
)
EXCLUDED = "(excluded)"


def basis(e: Evaluation, tree_size: int, root_hash: bytes) -> list[tuple[str, str]]:
    """What the report rests on: period, formula and ledger prefix."""
    return [
        ("period_start", canonical_time(e.period.start)),
        ("period_end", canonical_time(e.period.end)),
        ("group_by", e.group_by.value),
        ("formula_version", e.formula_version),
        ("formula", e.formula_text),
        ("ledger_tree_size", str(tree_size)),
        ("ledger_root_hash", root_hash.hex()),
    ]


def filename(e: Evaluation, extension: str) -> str:
    return (
        f"evaluation-{e.group_by.value}-{e.period.start:%Y%m%d}-{e.period.end:%Y%m%d}"
        f"-v{e.formula_version}.{extension}"
    )


def long_rows(e: Evaluation) -> Iterator[list[str]]:
    for row in e.rows:
        for f in row.figures:
            yield [e.group_by.value, row.group_key, *_figure(f), " ".join(f.case_ids)]
    for case_id, reason in e.excluded:
        yield [e.group_by.value, EXCLUDED, "excluded", reason, "", "", "", "", case_id]


def to_csv(e: Evaluation, tree_size: int, root_hash: bytes) -> bytes:
    """UTF-8 with a BOM (so spreadsheet programs read the Chinese correctly);
    the basis as leading `#` comment lines, then the long table."""
    out = io.StringIO()
    for key, value in basis(e, tree_size, root_hash):
        out.write(f"# {key}: {value}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LONG_HEADER)
    writer.writerows(long_rows(e))
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(e: Evaluation, tree_size: int, root_hash: bytes) -> bytes:
    book = Workbook()
    summary = book.active
    assert isinstance(summary, Worksheet)
    summary.title = "评价汇总"
    codes = [f.code for f in e.rows[0].figures] if e.rows else []
    names = [f.name_zh for f in e.rows[0].figures] if e.rows else []
    _sheet_rows(summary, [["分组", *names], ["group", *codes]])
    for row in e.rows:
        summary.append([row.group_key, *(f.value if f.defined else None for f in row.figures)])
    detail = book.create_sheet("明细")
    _sheet_rows(detail, [list(LONG_HEADER)])
    for line in long_rows(e):
        detail.append(line)
    excluded = book.create_sheet("排除案件")
    _sheet_rows(excluded, [["case_id", "原因 reason"]])
    for case_id, reason in e.excluded:
        excluded.append([case_id, reason])
    about = book.create_sheet("说明")
    for key, value in basis(e, tree_size, root_hash):
        about.append([key, value])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _figure(f: Figure) -> list[str]:
    """code, name, value, defined, numerator, denominator (rates only)."""
    rate = f.code in RATES
    value = f"{f.value:.4f}" if rate else f"{f.value:g}"
    return [
        f.code,
        f.name_zh,
        value if f.defined else "",
        "1" if f.defined else "0",
        str(f.numerator) if f.code != COMPOSITE[0] else "",
        str(f.denominator) if rate else "",
    ]


def _sheet_rows(sheet: Worksheet, rows: Sequence[Sequence[str]]) -> None:
    """Header rows, the first in bold."""
    for values in rows:
        sheet.append(list(values))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
