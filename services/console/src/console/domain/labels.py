"""Words the console shows, zh-CN first with English (a later issue moves these
into Babel catalogues)."""

from __future__ import annotations

from cityops.intake.v1 import case_pb2

LANGUAGES = ("zh-CN", "en")

STATE_LABELS: dict[int, tuple[str, str]] = {
    case_pb2.CASE_STATE_TRIAGE: ("待研判", "Triage"),
    case_pb2.CASE_STATE_FILED: ("已立案", "Filed"),
    case_pb2.CASE_STATE_REJECTED: ("不予立案", "Rejected"),
    case_pb2.CASE_STATE_MERGED: ("已合并", "Merged"),
    case_pb2.CASE_STATE_DISPATCHED: ("已派遣", "Dispatched"),
    case_pb2.CASE_STATE_UNROUTABLE: ("待人工派遣", "Unroutable"),
    case_pb2.CASE_STATE_ACCEPTED: ("已签收", "Accepted"),
    case_pb2.CASE_STATE_COMPLETED: ("已处置待核查", "Completed"),
    case_pb2.CASE_STATE_VERIFIED: ("核查通过", "Verified"),
    case_pb2.CASE_STATE_REWORK: ("返工", "Rework"),
    case_pb2.CASE_STATE_CLOSED: ("已结案", "Closed"),
}

TEXT: dict[str, tuple[str, str]] = {
    "title": ("城市运行一网统管", "CityOps: unified city operations"),
    "cases": ("案件列表", "Cases"),
    "case": ("案件", "Case"),
    "state": ("状态", "State"),
    "category": ("小类", "Category"),
    "place": ("位置", "Place"),
    "department": ("主办单位", "Lead department"),
    "deadline": ("处置时限", "Deadline"),
    "filed_at": ("立案时间", "Filed at"),
    "timeline": ("案件履历", "Timeline"),
    "step": ("环节", "Step"),
    "time": ("时间", "Time"),
    "actor": ("操作人", "Actor"),
    "trace": ("链路", "Trace"),
    "hash": ("哈希", "Hash"),
    "no_cases": ("暂无案件", "No cases yet"),
    "total": ("共", "Total"),
    "back": ("返回列表", "Back to cases"),
    "ledger_ok": ("账本校验通过", "Ledger verified"),
    "ledger_bad": ("账本校验失败", "Ledger verification failed"),
}


def pick(lang: str, pair: tuple[str, str]) -> str:
    return pair[1] if lang == "en" else pair[0]


def state_label(lang: str, state: int) -> str:
    return pick(lang, STATE_LABELS.get(state, ("未知", "Unknown")))


def text(lang: str) -> dict[str, str]:
    return {key: pick(lang, pair) for key, pair in TEXT.items()}
