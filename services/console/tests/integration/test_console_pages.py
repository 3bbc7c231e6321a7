"""The screens: rendered in zh-CN by default and in English on request, each
showing what its role needs (and only the actions it may take)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.console.tests.console_testing import ConsoleUnderTest, login


async def test_pages_render_in_chinese_by_default_and_english_on_request(
    console: ConsoleUnderTest,
) -> None:
    async with console.client() as http:
        await login(http, "operator")
        zh = await http.get("/cases")
        assert zh.status_code == 200 and 'lang="zh-CN"' in zh.text
        assert "案件列表" in zh.text and "已结案" in zh.text and "待研判" in zh.text
        en = await http.get("/cases?lang=en")
        assert 'lang="en"' in en.text and "Cases" in en.text and "Closed" in en.text
        assert "已结案" not in en.text
        # The choice sticks (cookie) for the next page.
        assert 'lang="en"' in (await http.get("/")).text


async def test_the_browser_language_is_the_default_before_any_choice(
    console: ConsoleUnderTest,
) -> None:
    async with console.client(headers={"Accept-Language": "en-GB,en;q=0.9"}) as http:
        page = await http.get("/login")
        assert 'lang="en"' in page.text and "User name" in page.text
    async with console.client() as http:
        page = await http.get("/login")
        assert 'lang="zh-CN"' in page.text and "用户名" in page.text


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize(
    ("user", "path", "marker"),
    [
        ("operator", "/", 'id="map"'),
        ("operator", "/cases/case-1", 'id="file-form"'),
        ("operator", "/queues", 'id="triage-queue"'),
        ("supervisor", "/board", 'id="board-table"'),
        ("transport", "/orders", 'id="orders"'),
        ("transport", "/orders/order-a", 'id="accept-form"'),
        ("auditor", "/audit", 'id="verify-ledger"'),
        ("auditor", "/audit/evaluation", 'id="chart-score"'),
        ("auditor", "/cases/case-2", 'id="verify-proof"'),
        ("admin", "/admin", 'id="user-form"'),
    ],
)
async def test_every_screen_renders_in_both_languages(
    console: ConsoleUnderTest, lang: str, user: str, path: str, marker: str
) -> None:
    async with console.client() as http:
        await login(http, user)
        page = await http.get(f"{path}?lang={lang}")
        assert page.status_code == 200, page.text
        assert f'lang="{lang}"' in page.text and marker in page.text
        assert "Content-Security-Policy" in page.headers


async def test_operations_centre_lists_the_live_queue(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        await login(http, "operator")
        page = await http.get("/")
        assert 'data-case-id="case-1"' in page.text  # triage
        assert 'data-case-id="case-3"' not in page.text  # dispatched: on the map, not in the queue
        fragment = await http.get("/fragments/queue")
        assert 'data-case-id="case-1"' in fragment.text and "<html" not in fragment.text


async def test_map_shows_open_cases_coloured_and_filters_apply(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        await login(http, "operator")
        geo = (await http.get("/api/map/cases")).json()
        by_id = {f["properties"]["case_id"]: f for f in geo["features"]}
        assert set(by_id) == {"case-1", "case-3"}  # closed case-2 is not open
        assert by_id["case-1"]["geometry"]["coordinates"] == [121.5, 31.25]
        assert by_id["case-1"]["properties"]["colour"] != by_id["case-3"]["properties"]["colour"]
        assert by_id["case-3"]["properties"]["overdue"] is True
        overdue = (await http.get("/api/map/cases?overdue=true")).json()
        assert [f["properties"]["case_id"] for f in overdue["features"]] == ["case-3"]
        assert (await http.get("/api/map/cases?district=D02")).json()["features"] == []
        listed = (await http.get("/api/cases?category=E0105&state=CASE_STATE_CLOSED")).json()
        assert [c["case_id"] for c in listed["cases"]] == ["case-2"]
        city = await http.get("/api/map/city")
        assert city.headers["content-type"].startswith("application/geo+json")
        assert len(city.json()["features"]) > 3


async def test_case_page_shows_evidence_detections_orders_and_timeline(
    console: ConsoleUnderTest,
) -> None:
    async with console.client() as http:
        await login(http, "operator")
        page = (await http.get("/cases/case-2?lang=en")).text
        assert "Closed" in page and "cityops.x.v1.CaseClosed" in page
        assert "https://evidence.sample-city.example/cam-1/1.jpg" in page
        assert "det-case-2-1" in page and "cam-0042" in page
        assert 'href="/orders/order-b"' in page


async def test_auditors_see_no_action_buttons(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        await login(http, "auditor")
        page = (await http.get("/cases/case-1")).text
        assert 'data-action="' not in page
        assert "当前无需您处理此案件" in page


async def test_department_inbox_shows_own_orders_with_countdown(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        await login(http, "transport")
        page = (await http.get("/orders")).text
        assert 'data-order-id="order-a"' in page and 'data-order-id="order-b"' not in page
        assert 'class="countdown"' in page and "-01:00:0" in page  # overdue by an hour
        # ... and by half a working hour on the department's calendar.
        assert '<small class="working-left">-0.5' in page
        home = await http.get("/")
        assert home.status_code == 303 and home.headers["location"] == "/orders"


async def test_escalation_board_lists_overdue_orders_first(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        await login(http, "supervisor")
        rows = (await http.get("/api/board")).json()["orders"]
        # order-a is an hour overdue; order-b has 2 h left, under the 4 h at-risk line.
        assert [(r["order_id"], r["risk"]) for r in rows] == [
            ("order-a", "overdue"),
            ("order-b", "at_risk"),
        ]


async def test_trace_links_follow_the_configured_template(console: ConsoleUnderTest) -> None:
    console.web.console.options = replace(
        console.web.console.options, trace_url_template="http://tempo.local/trace/{trace_id}"
    )
    async with console.client() as http:
        await login(http, "auditor")
        page = (await http.get("/cases/case-2")).text
        assert 'href="http://tempo.local/trace/4bf92f3577b34da6a3ce929d0e0e4736"' in page
