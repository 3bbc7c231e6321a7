"""Open311 GeoReport v2 served by the console, mapped onto intake."""

from __future__ import annotations

from dataclasses import replace

from services.console.tests.console_testing import ConsoleUnderTest

POTHOLE = {
    "service_code": "E0105",
    "lat": "31.25",
    "long": "121.50",
    "description": "路面坑洼，很深\n第二行",
}


async def test_services_are_the_catalogues_small_categories(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        services = (await http.get("/open311/v2/services.json")).json()
        codes = {s["service_code"] for s in services}
        assert "E0105" in codes and len(services) == len(list(console.web.console.ref.catalogue))
        one = next(s for s in services if s["service_code"] == "E0105")
        assert one["type"] == "realtime" and one["metadata"] is False and one["service_name"]
        english = (await http.get("/open311/v2/services.json?lang=en")).json()
        assert (
            next(s for s in english if s["service_code"] == "E0105")["service_name"]
            != one["service_name"]
        )
        definition = await http.get("/open311/v2/services/E0105.json")
        assert definition.json() == {"service_code": "E0105", "attributes": []}
        missing = await http.get("/open311/v2/services/Z999.json")
        assert missing.status_code == 404 and missing.json()[0]["code"] == 404


async def test_a_request_becomes_a_case_and_reads_back_open(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        reply = await http.post(
            "/open311/v2/requests.json",
            data={**POTHOLE, "address_string": "东湖路 12 号", "email": "citizen@example.org"},
        )
        assert reply.status_code == 201, reply.text
        [created] = reply.json()
        case_id = created["service_request_id"]
        [call] = console.world.calls_to("CreateCase")
        assert call.role == "system" and call.user == "open311:anonymous"
        assert call.request.category_code == "E0105" and call.request.title == "路面坑洼，很深"
        assert (call.request.point.latitude, call.request.point.longitude) == (31.25, 121.5)
        [request] = (await http.get(f"/open311/v2/requests/{case_id}.json")).json()
        assert request["status"] == "open" and request["service_code"] == "E0105"
        assert (
            request["description"] == POTHOLE["description"]
        )  # the whole text, kept by the console
        assert request["address"] == "东湖路 12 号" and "email" not in request
        assert request["lat"] == 31.25 and request["long"] == 121.5
        listed = (await http.get("/open311/v2/requests.json?status=open")).json()
        assert case_id in {r["service_request_id"] for r in listed}
        closed = (await http.get("/open311/v2/requests.json?status=closed")).json()
        assert {r["service_request_id"] for r in closed} == {"case-2"}
        assert closed[0]["status"] == "closed"
        by_ids = (
            await http.get(f"/open311/v2/requests.json?service_request_id={case_id},case-2")
        ).json()
        assert {r["service_request_id"] for r in by_ids} == {case_id, "case-2"}


async def test_an_idempotency_key_makes_a_retry_file_one_case(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        for _ in range(2):
            reply = await http.post(
                "/open311/v2/requests.json", data=POTHOLE, headers={"Idempotency-Key": "k-1"}
            )
            assert reply.status_code == 201
    ids = {c.request.request_id for c in console.world.calls_to("CreateCase")}
    assert ids == {"open311:anonymous:k-1"}


async def test_bad_requests_get_open311_errors_and_file_nothing(console: ConsoleUnderTest) -> None:
    cases = [
        ({"lat": "31.25", "long": "121.5"}, "service_code is required"),
        ({**POTHOLE, "service_code": "Z999"}, "not in the catalogue"),
        ({**POTHOLE, "lat": ""}, "lat is required"),
        ({**POTHOLE, "long": "east"}, "long must be a number"),
        ({**POTHOLE, "lat": "91"}, "between"),
        ({**POTHOLE, "lat": "nan"}, "between"),
        ({**POTHOLE, "lat": "39.9", "long": "116.4"}, "outside the city"),
        ({**POTHOLE, "media_url": "javascript:alert(1)"}, "http(s) URL"),
        ({**POTHOLE, "description": "x" * 5000}, "longer than"),
    ]
    async with console.client() as http:
        for form, reason in cases:
            reply = await http.post("/open311/v2/requests.json", data=form)
            assert reply.status_code == 400, (form, reply.text)
            [error] = reply.json()
            assert error["code"] == 400 and reason in error["description"], error
        as_json = await http.post("/open311/v2/requests.json", json=POTHOLE)
        assert as_json.status_code == 400
        bad_status = await http.get("/open311/v2/requests.json?status=pending")
        assert bad_status.status_code == 400 and bad_status.json()[0]["code"] == 400
        bad_date = await http.get("/open311/v2/requests.json?start_date=yesterday")
        assert bad_date.status_code == 400
        unknown = await http.get("/open311/v2/requests/case-404.json")
        assert unknown.status_code == 404 and unknown.json()[0]["code"] == 404
    assert console.world.calls_to("CreateCase") == []


async def test_api_keys_identify_clients_and_can_be_required(console: ConsoleUnderTest) -> None:
    async with console.client() as http:
        wrong = await http.post("/open311/v2/requests.json", data={**POTHOLE, "api_key": "guess"})
        assert wrong.status_code == 403 and wrong.json()[0]["code"] == 403
        ok = await http.post("/open311/v2/requests.json", data={**POTHOLE, "api_key": "k-hotline"})
        assert ok.status_code == 201
        assert console.world.calls_to("CreateCase")[-1].user == "open311:hotline"
        console.web.options = replace(console.web.options, open311_require_api_key=True)
        anonymous = await http.post("/open311/v2/requests.json", data=POTHOLE)
        assert anonymous.status_code == 403
    assert len(console.world.calls_to("CreateCase")) == 1


async def test_open311_ignores_console_sessions(console: ConsoleUnderTest) -> None:
    """A logged-in browser posting to Open311 acts as an anonymous client, not as its user."""
    from services.console.tests.console_testing import login

    async with console.client() as http:
        await login(http, "operator")
        reply = await http.post("/open311/v2/requests.json", data=POTHOLE)
        assert reply.status_code == 201
    assert console.world.calls_to("CreateCase")[-1].user == "open311:anonymous"
