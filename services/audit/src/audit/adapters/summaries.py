"""The one-line zh-CN summary an auditor reads on a case's timeline, per
event type.

Events are matched by their full type name and read by field name, so a
producer adding fields (or a type this module has never heard of) never
breaks recording: an unknown type is summarised by its short name. Free text
from citizens never goes into a summary; the payload digest commits to the
whole event.
"""

from __future__ import annotations

from collections.abc import Callable

from google.protobuf.message import Message

from audit.adapters.fields import enum_suffix, field, message_field

CategoryName = Callable[[str], str]
"""小类 code → zh-CN name ("" when unknown)."""

SOURCE_KIND_ZH = {
    "VIDEO_AI": "视频AI",
    "DRONE": "无人机",
    "IOT": "物联网传感器",
    "INSPECTOR": "巡查员",
    "CITIZEN": "市民",
}
WITHDRAWAL_ZH = {"CANCELLED": "来源撤销报告", "CLEARED": "告警解除"}
DISCARD_ZH = {
    "BELOW_THRESHOLD": "低于受理阈值",
    "UNKNOWN_CATEGORY": "未知小类",
    "WITHDRAWN": "已撤销",
}
REJECT_ZH = {
    "NOT_IN_SCOPE": "不属受理范围",
    "DUPLICATE": "重复上报",
    "INSUFFICIENT_EVIDENCE": "证据不足",
    "FALSE_ALARM": "误报",
    "WITHDRAWN": "检测均已撤销",
    "OTHER": "其他",
}
RETURN_ZH = {
    "OUTSIDE_JURISDICTION": "非本单位职责",
    "WRONG_CATEGORY": "分类有误",
    "DUPLICATE": "重复工单",
    "CANNOT_LOCATE": "无法定位",
    "OTHER": "其他",
}
ESCALATION_ZH = {"WARNING": "预警", "BREACH": "超期"}
CLOSE_REASON_ZH = {
    "REJECTED": "不予立案",
    "MERGED": "已合并",
    "BACKLOGGED": "挂账",
    "MACHINE_VERIFIED": "机器核查",
}

FIXED = {
    "cityops.workorders.v1.WorkOrderAccepted": "签收",
    "cityops.workorders.v1.WorkOrderReopened": "工单重开（返工）",
    "cityops.intake.v1.CaseUrgencyChanged": "调整紧急程度",
    "cityops.dispatch.v1.CaseArbitrationRequested": "提请仲裁（退单已穷尽责任单位）",
    "cityops.workorders.v1.WorkOrderCancelled": "工单撤销（改派）",
    "cityops.console.v1.DepartmentCreated": "新增部门",
}
ACCOUNT_CHANGES = {
    "CREATED": "新建账号",
    "UPDATED": "变更账号角色或部门",
    "PASSWORD_RESET": "重置账号密码",
    "DEACTIVATED": "停用账号",
    "REACTIVATED": "启用账号",
}


class Summaries:
    """Builds summaries; knows the catalogue's 小类 names."""

    def __init__(self, category_name: CategoryName | None = None) -> None:
        self.category_name: CategoryName = category_name or (lambda _code: "")
        self._by_type: dict[str, Callable[[Message], str]] = {
            "cityops.detection.v1.DetectionReported": self._detected,
            "cityops.detection.v1.DetectionWithdrawn": _withdrawn,
            "cityops.intake.v1.CaseFiled": self._filed,
            "cityops.intake.v1.DetectionDiscarded": self._discarded,
            "cityops.intake.v1.CaseCorroborated": _corroborated,
            "cityops.intake.v1.CaseRejected": _rejected,
            "cityops.intake.v1.CaseMerged": lambda m: f"合并至 {field(m, 'duplicate_of')}".rstrip(),
            "cityops.intake.v1.CaseReclassified": self._reclassified,
            "cityops.dispatch.v1.CaseDispatched": _dispatched,
            "cityops.dispatch.v1.CaseRedispatched": _redispatched,
            "cityops.dispatch.v1.CaseUnroutable": _unroutable,
            "cityops.dispatch.v1.CaseEscalated": _escalated,
            "cityops.dispatch.v1.ExtensionDecided": _extension_decided,
            "cityops.dispatch.v1.CaseBacklogged": _with_reason("挂账"),
            "cityops.dispatch.v1.CaseResumed": _resumed,
            "cityops.console.v1.AccountChanged": _account_changed,
            "cityops.workorders.v1.WorkOrderCreated": _created,
            "cityops.workorders.v1.WorkOrderCompleted": _with_evidence("处置完成"),
            "cityops.workorders.v1.WorkOrderProgressed": _with_evidence("处置进展"),
            "cityops.workorders.v1.WorkOrderReturned": _returned,
            "cityops.workorders.v1.WorkOrderExtensionRequested": _extension_requested,
            "cityops.audit.v1.CaseVerified": _machine_or("核查通过"),
            "cityops.audit.v1.CaseRework": _machine_or("核查不通过，返工"),
            "cityops.audit.v1.CaseClosed": _closed,
        }

    def __call__(self, message: Message) -> str:
        name = message.DESCRIPTOR.full_name
        if name in FIXED:
            return FIXED[name]
        build = self._by_type.get(name)
        return build(message) if build else message.DESCRIPTOR.name

    def category(self, code: str, fallback: str = "") -> str:
        return " ".join(part for part in (code, self.category_name(code) or fallback) if part)

    def _detected(self, m: Message) -> str:
        d = message_field(m, "detection")
        source = SOURCE_KIND_ZH.get(enum_suffix(d, "source_kind"), "未知来源")
        # Not the free-text description: a citizen's words stay out of the summary.
        return f"发现 {self.category(field(d, 'category_code'))}（{source}）"

    def _filed(self, m: Message) -> str:
        case = message_field(m, "case")
        return f"立案 {self.category(field(case, 'category_code'), field(case, 'title'))}"

    def _discarded(self, m: Message) -> str:
        reason = DISCARD_ZH.get(enum_suffix(m, "reason"), "未受理")
        return f"舍弃检测 {self.category(field(m, 'category_code'))}（{reason}）"

    def _reclassified(self, m: Message) -> str:
        old, new = field(m, "old_category_code"), field(m, "new_category_code")
        return f"改类 {old} → {self.category(new)}"


def _withdrawn(m: Message) -> str:
    return f"检测撤销：{WITHDRAWAL_ZH.get(enum_suffix(m, 'kind'), '来源撤销')}"


def _corroborated(m: Message) -> str:
    count = field(m, "detection_count")
    return f"新增佐证（共 {count} 条检测）" if count else "新增佐证"


def _rejected(m: Message) -> str:
    return f"不予立案：{REJECT_ZH.get(enum_suffix(m, 'reason'), '未说明理由')}"


def _dispatched(m: Message) -> str:
    assist = enum_suffix(m, "role") == "ASSIST"
    return f"派遣至 {field(m, 'department_id')}" + ("（协办）" if assist else "")


def _redispatched(m: Message) -> str:
    new = field(message_field(m, "dispatch"), "department_id")
    previous = field(m, "previous_department_id")
    return f"改派至 {new}" + (f"（原 {previous}）" if previous else "")


def _unroutable(m: Message) -> str:
    reason = field(m, "reason")
    return f"无法派遣：{reason}" if reason else "无法派遣"


def _escalated(m: Message) -> str:
    kind = ESCALATION_ZH.get(enum_suffix(m, "kind"), "")
    level, stage = field(m, "level"), field(m, "stage")
    return f"督办{kind} 第{level}级" + (f"（{stage}）" if stage else "")


def _extension_decided(m: Message) -> str:
    return "延期批准" if field(m, "approved") else "延期驳回"


def _created(m: Message) -> str:
    return f"生成工单 {field(message_field(m, 'work_order'), 'department_id')}".rstrip()


def _returned(m: Message) -> str:
    return f"退单：{RETURN_ZH.get(enum_suffix(m, 'reason'), '未说明理由')}"


def _extension_requested(m: Message) -> str:
    hours = field(m, "requested_hours")
    return f"申请延期 {hours} 工作时" if hours else "申请延期"


def _closed(m: Message) -> str:
    reason = CLOSE_REASON_ZH.get(str(field(m, "reason_code")).upper())
    return "结案" + (f"（{reason}）" if reason else "")


def _resumed(m: Message) -> str:
    hours = field(m, "suspended_hours")
    note = field(m, "note")
    text = f"恢复办理（挂账 {hours:g} 工作小时）" if hours else "恢复办理"
    return f"{text}：{note}" if note else text


def _account_changed(m: Message) -> str:
    change = ACCOUNT_CHANGES.get(enum_suffix(m, "change"), "账号变更")
    return f"{change}：{field(m, 'user_id')}"


def _with_reason(text: str) -> Callable[[Message], str]:
    def build(m: Message) -> str:
        reason = field(m, "reason")
        return f"{text}：{reason}" if reason else text

    return build


def _with_evidence(text: str) -> Callable[[Message], str]:
    def build(m: Message) -> str:
        count = len(field(m, "evidence") or ())
        return f"{text}（{count} 项证据）" if count else text

    return build


def _machine_or(text: str) -> Callable[[Message], str]:
    def build(m: Message) -> str:
        return f"机器{text}" if field(m, "machine_verified") else text

    return build
