"""Auditors' proof checks and evaluations; departments' order flow with a photo."""

from __future__ import annotations

from dataclasses import replace

from cityops.intake.v1 import case_pb2
from services.console.tests.console_testing import ConsoleUnderTest, login


async def test_a_cases_entries_are_proven_against_the_signed_log(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        await login(http, "auditor")
        reply = (await http.get("/api/cases/case-2/proof")).json()
        assert reply["ok"] is True and len(reply["entries"]) == 3
        first = reply["entries"][0]
        assert first["leaf_matches"] and first["path_leads_to_root"] and first["signature_valid"]
        assert first["key_trusted"] and first["tree_size"] == 3
        one = (await http.get("/api/ledger/entries/2/proof")).json()
        assert one["ok"] is True and one["sequence"] == 2


async def test_an_edited_entry_fails_the_check(console: ConsoleUnderTest) -> None:
    console.world.tamper = True
    async with console.client() as http:
        await login(http, "auditor")
        reply = (await http.get("/api/ledger/entries/1/proof")).json()
    assert reply["ok"] is False and reply["leaf_matches"] is False
    assert reply["signature_valid"] is True  # the log itself is intact; the entry shown is not


async def test_a_key_the_console_does_not_trust_fails_the_check(console: ConsoleUnderTest) -> None:
    console.web.console.options = replace(console.web.console.options, trusted_key_ids=("00" * 32,))
    async with console.client() as http:
        await login(http, "auditor")
        reply = (await http.get("/api/ledger/entries/1/proof")).json()
    assert reply["ok"] is False and reply["key_trusted"] is False


async def test_evaluation_export_and_dossier(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        await login(http, "auditor")
        report = (
            await http.get("/api/evaluation?start=2026-01-01&end=2026-01-31&group_by=district")
        ).json()
        assert report["rows"][0]["group_key"] == "D01-transport"
        [call] = console.world.calls_to("Evaluate")
        assert call.request.group_by == 2 and call.user == "auditor"
        assert call.request.period_end.seconds - call.request.period_start.seconds == 31 * 86400
        csv = await http.get("/api/evaluation/export?format=csv")
        assert csv.headers["content-type"].startswith("text/csv") and b"87.5" in csv.content
        assert 'filename="evaluation.csv"' in csv.headers["content-disposition"]
        assert (
            await http.get("/api/evaluation?start=2026-02-01&end=2026-01-01")
        ).status_code == 400
        dossier = await http.get("/api/cases/case-2/dossier")
        assert dossier.status_code == 200 and b"dossier" in dossier.content
        assert "default-src 'none'" in dossier.headers["content-security-policy"]
        assert (await http.get("/api/ledger/verify")).json()["ok"] is True


async def test_operators_do_not_see_evaluations(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        await login(http, "operator")
        assert (await http.get("/api/evaluation")).status_code == 403
        assert (await http.get("/audit/evaluation")).status_code == 403


async def test_a_department_accepts_uploads_a_photo_and_completes(
    console: ConsoleUnderTest,
) -> None:
    async with console.client() as http:
        csrf = await login(http, "transport")
        headers = {"X-CSRF-Token": csrf}
        assert (
            await http.post("/api/orders/order-a/accept", json={}, headers=headers)
        ).status_code == 200
        photo = b"\xff\xd8\xff\xe0 a jpeg"
        upload = await http.post(
            "/api/orders/order-a/evidence",
            files={"file": ("after.jpg", photo, "image/jpeg")},
            data={"kind": "EVIDENCE_KIND_AFTER_PHOTO", "request_id": "u-1"},
            headers=headers,
        )
        assert upload.status_code == 200, upload.text
        evidence_id = upload.json()["evidence"]["evidence_id"]
        done = await http.post(
            "/api/orders/order-a/complete", json={"note": "已修复"}, headers=headers
        )
        assert (
            done.status_code == 200
            and done.json()["work_order"]["state"] == "WORK_ORDER_STATE_COMPLETED"
        )
        content = await http.get(f"/api/orders/order-a/evidence/{evidence_id}")
        assert content.status_code == 200 and content.headers["x-content-type-options"] == "nosniff"
        assert content.headers["content-type"] == "image/jpeg"
    [up] = console.world.calls_to("UploadEvidence")
    assert up.request.content == photo and up.request.kind == 2 and up.request.request_id == "u-1"
    assert up.department == "D01-transport"


async def test_uploads_are_checked_before_they_reach_workorders(console: ConsoleUnderTest) -> None:
    console.web.console.options = replace(console.web.console.options, max_upload_bytes=10)
    async with console.client() as http:
        csrf = await login(http, "transport")
        headers = {"X-CSRF-Token": csrf}
        html = await http.post(
            "/api/orders/order-a/evidence",
            files={"file": ("x.html", b"<script>", "text/html")},
            headers=headers,
        )
        assert html.status_code == 400 and "media type" in html.json()["detail"]
        big = await http.post(
            "/api/orders/order-a/evidence",
            files={"file": ("big.jpg", b"\xff" * 11, "image/jpeg")},
            headers=headers,
        )
        assert big.status_code == 400 and "larger" in big.json()["detail"]
        extension = await http.post(
            "/api/orders/order-a/extension", json={"hours": 0, "reason": "x"}, headers=headers
        )
        assert extension.status_code == 422
    assert console.world.calls_to("UploadEvidence") == []


async def test_supervisor_decisions_carry_their_identity(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        csrf = await login(http, "supervisor")
        headers = {"X-CSRF-Token": csrf}
        decided = await http.post(
            "/api/extensions/ext-9/decision",
            json={"approve": True, "hours": 4, "note": "ok"},
            headers=headers,
        )
        assert decided.status_code == 200 and decided.json()["approved"] is True
        arbitrated = await http.post(
            "/api/cases/case-1/arbitrate",
            json={"outcome": "ARBITRATION_OUTCOME_DEPARTMENT", "department_id": "D01-transport"},
            headers=headers,
        )
        assert arbitrated.status_code == 200
        dispatched = await http.post(
            "/api/cases/case-1/dispatch",
            json={"department_id": "D01-water", "note": "人工"},
            headers=headers,
        )
        assert dispatched.status_code == 200
    [decision] = console.world.calls_to("DecideExtension")
    assert decision.request.extension_id == "ext-9" and decision.request.hours == 4
    assert (decision.user, decision.role) == ("supervisor", "supervisor")
    [arbitration] = console.world.calls_to("Arbitrate")
    assert arbitration.request.outcome == 2 and arbitration.request.department_id == "D01-transport"
    assert console.world.calls_to("DispatchManually")[0].request.department_id == "D01-water"


async def test_a_supervisor_resumes_a_backlogged_case_and_an_operator_cannot(
    console: ConsoleUnderTest,
) -> None:
    console.world.cases["case-3"].state = case_pb2.CASE_STATE_BACKLOGGED
    async with console.client() as http:
        csrf = await login(http, "operator")
        page = (await http.get("/cases/case-3")).text
        assert 'id="resume-form"' not in page
        refused = await http.post(
            "/api/cases/case-3/resume", json={"note": "x"}, headers={"X-CSRF-Token": csrf}
        )
        assert refused.status_code == 403
    assert console.world.calls_to("Resume") == []
    async with console.client() as http:
        csrf = await login(http, "supervisor")
        page = (await http.get("/cases/case-3?lang=zh-CN")).text
        assert 'id="resume-form"' in page and "恢复" in page and 'id="backlog-form"' not in page
        assert "Resume" in (await http.get("/cases/case-3?lang=en")).text
        resumed = await http.post(
            "/api/cases/case-3/resume",
            json={"note": "产权已查明", "request_id": "r-1"},
            headers={"X-CSRF-Token": csrf},
        )
        assert resumed.status_code == 200 and resumed.json()["state"] == "dispatched"
    [call] = console.world.calls_to("Resume")
    assert (call.request.case_id, call.request.note) == ("case-3", "产权已查明")
    assert call.request.request_id == "r-1"
    assert (call.user, call.role) == ("supervisor", "supervisor")
