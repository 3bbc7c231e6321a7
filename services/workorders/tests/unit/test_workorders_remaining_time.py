"""Working time left on an order: counted on its department's calendar, as its deadline was."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from google.protobuf.timestamp_pb2 import Timestamp

from cityops.dispatch.v1 import events_pb2 as dispatch_events
from svckit.calendars import (
    CalendarBook,
    DepartmentCalendars,
    WorkingCalendar,
    load_department_calendars,
)
from workorders.adapters import integration_events as ie
from workorders.adapters import messages
from workorders.domain.model import WorkOrder

SHANGHAI = ZoneInfo("Asia/Shanghai")
SHIPPED = load_department_calendars()
# 9:00–17:30 on weekdays, with the shipped public holidays and 调休.
OFFICE = DepartmentCalendars(
    CalendarBook(
        default=WorkingCalendar(
            "office",
            SHANGHAI,
            frozenset(range(5)),
            ((9 * 60, 17 * 60 + 30),),
            holidays=SHIPPED.default.holidays,
            workdays=SHIPPED.default.workdays,
        )
    )
)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def order_due(deadline: datetime, department_id: str = "D01-water") -> WorkOrder:
    due = Timestamp()
    due.FromDatetime(deadline)
    event = dispatch_events.CaseDispatched(
        case_id="C-1",
        dispatch_id="D-1",
        department_id=department_id,
        category_code="E0105",
        title="Burst main",
        deadline=due,
    )
    return WorkOrder.from_dispatch(
        ie.dispatch_from_event(event, ""), order_id="WO-1", now=deadline - timedelta(days=7)
    )


def test_friday_evening_to_monday_ten_is_an_hour_and_a_half_of_work_not_65_hours() -> None:
    order = order_due(local(2026, 3, 9, 10, 0))  # Monday
    msg = messages.work_order_message(order, now=local(2026, 3, 6, 17, 0), calendars=OFFICE)
    assert msg.remaining_seconds == 65 * 3600
    assert msg.remaining_working_seconds == 90 * 60


def test_a_public_holiday_in_between_is_skipped() -> None:
    # 清明 2026: Saturday 4 to Monday 6 April off; Thursday 17:00 to Tuesday 10:00.
    order = order_due(local(2026, 4, 7, 10, 0))
    msg = messages.work_order_message(order, now=local(2026, 4, 2, 17, 0), calendars=OFFICE)
    assert msg.remaining_working_seconds == (30 + 8 * 60 + 30 + 60) * 60  # Thu, Fri, Tue


def test_overdue_counts_the_working_time_since_as_negative() -> None:
    order = order_due(local(2026, 3, 6, 16, 0))  # Friday afternoon
    monday = messages.work_order_message(order, now=local(2026, 3, 9, 10, 0), calendars=OFFICE)
    assert monday.remaining_seconds == -66 * 3600
    assert monday.remaining_working_seconds == -(90 + 60) * 60
    # Over the weekend it stays overdue by Friday's last working hour and a half.
    sunday = messages.work_order_message(order, now=local(2026, 3, 8, 12, 0), calendars=OFFICE)
    assert sunday.remaining_working_seconds == -90 * 60


def test_each_department_counts_on_its_own_calendar() -> None:
    friday, monday = local(2026, 3, 6, 17, 0), local(2026, 3, 9, 10, 0)
    city = messages.work_order_message(order_due(monday), now=friday, calendars=SHIPPED)
    assert city.remaining_working_seconds == 2 * 3600  # 17:00–18:00 and 09:00–10:00
    # 燃气抢修 runs round the clock: its working time is the wall clock.
    gas = messages.work_order_message(order_due(monday, "D01-gas"), now=friday, calendars=SHIPPED)
    assert gas.remaining_working_seconds == gas.remaining_seconds == 65 * 3600


def test_events_and_orders_without_a_deadline_carry_no_remaining_time() -> None:
    order = order_due(local(2026, 3, 9, 10, 0))
    assert not messages.work_order_message(order, calendars=OFFICE).HasField(
        "remaining_working_seconds"
    )
    order.deadline = None
    undated = messages.work_order_message(order, now=local(2026, 3, 6, 17, 0), calendars=OFFICE)
    assert not undated.HasField("remaining_seconds")
    assert not undated.HasField("remaining_working_seconds")
