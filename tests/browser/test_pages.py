"""The three audiences' pages in a real browser, at phone (390x844) and desktop (1366x768) size.

Expected words come from the issue's wording (the national terms), expected figures from the
JSON API (a different path through the ledger: the pages must say what the API says).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from urllib.parse import quote

import msgspec
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import Ledger, _get, shoot

VI_WORDS = {
    "in_time": "Còn hạn", "due_soon": "Sắp đến hạn", "overdue": "Quá hạn",
    "early": "Trước hạn", "on_time": "Đúng hạn", "late": "Trễ hạn",
}  # fmt: skip
EN_WORDS = {
    "in_time": "In time", "due_soon": "Due soon", "overdue": "Overdue",
    "early": "Early", "on_time": "On time", "late": "Late",
}  # fmt: skip


def public_answer(ledger: Ledger, code: str, secret: str) -> dict:
    import urllib.request  # noqa: PLC0415

    request = urllib.request.Request(
        f"{ledger.base}/v1/public/dossiers/{code}", headers={"X-Lookup-Secret": secret}
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        return msgspec.json.decode(answer.read())


def local_date(text: str) -> str:
    return datetime.fromisoformat(text).strftime("%d/%m/%Y")


def sign_in(page: Page, ledger: Ledger) -> None:
    page.goto("/inspect")
    expect(page).to_have_url(f"{ledger.base}/inspect/sign-in?next=%2Finspect")
    page.locator("#key").fill(ledger.inspector_key)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page).to_have_url(f"{ledger.base}/inspect")


def sample_with(ledger: Ledger, event_type: str) -> str:
    """A demo sample whose history has this event (the first sample if none has)."""
    for code, _secret in ledger.samples:
        _status, body = _get(f"{ledger.base}/v1/dossiers/{code}/history", ledger.inspector_key)
        if any(event["type"] == event_type for event in msgspec.json.decode(body)["events"]):
            return code
    return ledger.samples[0][0]


def test_lookup_of_a_demo_dossier_in_vietnamese_then_english(page: Page, ledger: Ledger) -> None:
    code, secret = ledger.samples[0]
    expected = public_answer(ledger, code, secret)
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "vi"
    page.get_by_label("Mã hồ sơ").fill(code)
    page.get_by_label("Mã tra cứu").fill(secret)
    page.get_by_label("Mã tra cứu").press("Enter")  # the keyboard is enough
    answer = page.locator("#lookup-answer")
    expect(answer).to_have_attribute("data-outcome", "found")
    expect(page.locator("#status")).to_have_text(expected["status"]["name_vi"])
    expect(page.locator("#timeliness")).to_have_text(VI_WORDS[expected["timeliness"]])
    expect(page.locator("#procedure")).to_have_text(expected["procedure"]["name"])
    expect(page.locator("#received")).to_contain_text(local_date(expected["received_at"]))
    expect(page.locator("#due")).to_have_text(local_date(expected["due_at"]))
    # Received (an online dossier is Submitted first): its milestone is in the list, once.
    expect(page.locator("#milestones li", has_text="Được tiếp nhận")).to_have_count(1)
    assert "officer" not in answer.inner_text() and "cb-" not in answer.inner_text()
    shoot(page, "lookup")
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#status")).to_have_text(expected["status"]["name_en"])
    expect(page.locator("#timeliness")).to_have_text(EN_WORDS[expected["timeliness"]])
    expect(page.locator("#due")).to_have_text(local_date(expected["due_at"]))
    page.goto("/")  # the choice sticks (a cookie)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_label("Dossier code")).to_be_visible()


def test_a_wrong_secret_reads_like_an_unknown_code(page: Page, ledger: Ledger) -> None:
    code, _secret = ledger.samples[0]
    answers = []
    for tried_code, tried_secret in ((code, "WRONG9"), ("000.00.31.H56-200101-9999", "WRONG9")):
        page.goto("/")
        page.get_by_label("Mã hồ sơ").fill(tried_code)
        page.get_by_label("Mã tra cứu").fill(tried_secret)
        page.get_by_role("button", name="Tra cứu").click()
        answer = page.locator("#lookup-answer")
        expect(answer).to_have_attribute("data-outcome", "not_found")
        answers.append(answer.inner_text())
    assert answers[0] == answers[1]
    shoot(page, "lookup-not-found")


def test_the_receipts_link_fills_the_form_from_the_fragment(page: Page, ledger: Ledger) -> None:
    code, secret = ledger.samples[-1]
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url))
    page.goto(f"/#code={quote(code)}&secret={quote(secret)}")
    expect(page.locator("#lookup-answer")).to_have_attribute("data-outcome", "found")
    expect(page.locator("#lookup-answer .code")).to_have_text(code)
    assert secret not in page.url  # the script takes it out of the address bar
    assert not [url for url in sent if secret in url], "the secret travelled in a URL"


def test_the_lookup_url_of_a_received_answer_opens_the_dossier(
    page: Page, ledger: Ledger, viewport: dict[str, int]
) -> None:
    import urllib.request  # noqa: PLC0415

    code = f"000.00.31.H56-261201-{viewport['width']:04d}"  # one dossier per screen size
    body = {
        "event_id": f"pages-lookup-url-{viewport['width']}",
        "type": "Received",
        "occurred_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "actor": {"id": "cb-0042", "role": "receiving_officer"},
        "data": {"procedure_code": "1.001757", "channel": "in_person", "lookup_secret": "Q7+/ %X"},
    }
    request = urllib.request.Request(
        f"{ledger.base}/v1/dossiers/{code}/events?consistent=true",
        data=msgspec.json.encode(body),
        headers={
            "Authorization": f"Bearer {ledger.handler_key}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=15) as answer:
        lookup_url = msgspec.json.decode(answer.read())["lookup_url"]
    assert lookup_url.startswith(f"{ledger.base}/#code={code}&secret=")
    page.goto(lookup_url)
    expect(page.locator("#lookup-answer")).to_have_attribute("data-outcome", "found")
    expect(page.locator("#status")).to_have_text("Được tiếp nhận")


def test_inspector_signs_in_lists_reads_a_timeline_and_the_proofs_pass(
    page: Page, ledger: Ledger
) -> None:
    sign_in(page, ledger)
    cookie = next(c for c in page.context.cookies() if c["name"] == "ledger_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert 7.9 * 3600 < cookie["expires"] - datetime.now().timestamp() <= 8 * 3600
    page.locator("#list-overdue").click()
    status, body = _get(f"{ledger.base}/v1/dossiers/?overdue=true&limit=1", ledger.inspector_key)
    assert status == 200
    expect(page.locator("#list-total strong")).to_have_text(str(msgspec.json.decode(body)["total"]))
    page.get_by_role("link", name="Tất cả", exact=True).click()
    status, body = _get(f"{ledger.base}/v1/dossiers/?limit=25", ledger.inspector_key)
    api_list = msgspec.json.decode(body)
    expect(page.locator("#list-total strong")).to_have_text(str(api_list["total"]))
    codes = page.locator("#dossier-list tbody tr th a").all_inner_texts()
    assert codes == [item["code"] for item in api_list["items"]]
    shoot(page, "inspect-list")
    first_code = sample_with(ledger, "SupplementRequested")  # search by code
    page.get_by_label("Tìm hồ sơ theo mã").fill(first_code)
    page.get_by_label("Tìm hồ sơ theo mã").press("Enter")
    expect(page.locator("h1 .code")).to_have_text(first_code)
    summary = page.locator("#proof-summary")
    expect(summary).to_have_attribute("data-state", "ok", timeout=15_000)
    rows = page.locator("#timeline tbody tr")
    assert summary.get_attribute("data-verified") == str(rows.count())
    expect(rows.first).to_have_attribute("data-proof", "ok")
    types = [rows.nth(i).get_attribute("data-type") for i in range(rows.count())]
    if "SupplementRequested" in types:  # the wait is shaded
        waiting = types.index("SupplementRequested")
        expect(rows.nth(waiting)).to_have_class("paused")
    # The state at the first event: as the API's state endpoint answers it.
    rows.first.get_by_role("link").click()
    expect(page.locator("#state")).to_have_attribute("data-version", "1")
    status, body = _get(
        f"{ledger.base}/v1/dossiers/{first_code}/state?version=1", ledger.inspector_key
    )
    state = msgspec.json.decode(body)
    expect(page.locator("#state-status")).to_have_text(state["status"]["name_vi"])
    expect(page.locator("#state-version")).to_have_text("1")
    shoot(page, "timeline")
    page.locator("#sign-out").click()
    expect(page).to_have_url(f"{ledger.base}/inspect/sign-in")
    page.goto(f"/inspect/dossiers/{first_code}")
    expect(page).to_have_url(
        f"{ledger.base}/inspect/sign-in?next=%2Finspect%2Fdossiers%2F{quote(first_code)}"
    )
    shoot(page, "sign-in")


def test_a_tampered_proof_fails_in_the_browser(page: Page, ledger: Ledger) -> None:
    code, _secret = ledger.samples[0]

    def tamper(route: Route) -> None:
        answer = route.fetch()
        bundle = json.loads(answer.body())
        proof = bundle["events"][0]["inclusion_proof"]
        proof[0] = ("A" if proof[0][0] != "A" else "B") + proof[0][1:]
        route.fulfill(response=answer, body=json.dumps(bundle))

    page.route("**/bundle.json", tamper)
    sign_in(page, ledger)
    page.goto(f"/inspect/dossiers/{code}")
    expect(page.locator("#proof-summary")).to_have_attribute("data-state", "failed", timeout=15_000)
    expect(page.locator("#timeline tbody tr").first).to_have_attribute("data-proof", "failed")


def test_the_dashboards_figures_are_the_report_apis(page: Page, ledger: Ledger) -> None:
    sign_in(page, ledger)
    last = date.today()
    first = date(last.year - 1, 1, 1)
    page.goto(f"/dashboard?from={first}&to={last}")
    status, body = _get(
        f"{ledger.base}/v1/reports/timeliness?from={first}&to={last}", ledger.inspector_key
    )
    assert status == 200
    report = msgspec.json.decode(body)
    for indicator, name in (
        ("2-1", "on_time_rate"), ("3-3", "online_rate"), ("4-1", "electronic_result_rate"),
    ):  # fmt: skip
        ratio = report[name]
        expect(page.locator(f"#ind-{indicator}-ratio")).to_have_text(
            f"{ratio['numerator']} / {ratio['denominator']}"
        )
    assert report["average_processing_days"]["denominator"] == int(
        page.locator("#ind-2-2-ratio").inner_text().split("/")[1]
    )
    expect(page.locator("#overdue-count")).to_have_text(str(report["counts"]["open_overdue"]))
    rows = page.locator("#table-agencies tbody tr")
    for index in range(rows.count()):
        agency = rows.nth(index).get_attribute("data-agency")
        status, body = _get(
            f"{ledger.base}/v1/reports/timeliness?from={first}&to={last}&agency={agency}",
            ledger.inspector_key,
        )
        ratio = msgspec.json.decode(body)["on_time_rate"]
        expect(rows.nth(index).locator("td").nth(2)).to_have_text(
            f"{ratio['numerator']} / {ratio['denominator']}"
        )
    shoot(page, "dashboard")
    page.locator("#overdue-count").click()
    expect(page).to_have_url(f"{ledger.base}/inspect?timeliness=overdue")


def sample_late_at_a_step(ledger: Ledger) -> tuple[str, list[dict]]:
    """A demo sample with a step finished late, and its steps as the API answers them."""
    for code, _secret in ledger.samples:
        _status, body = _get(f"{ledger.base}/v1/dossiers/{code}", ledger.inspector_key)
        steps = msgspec.json.decode(body)["steps"]
        if any(step["timeliness"] == "late" for step in steps):
            return code, steps
    raise AssertionError("the demo has a sample late at a step")


def test_the_timeline_shows_each_step_as_the_api_does(page: Page, ledger: Ledger) -> None:
    code, steps = sample_late_at_a_step(ledger)
    sign_in(page, ledger)
    page.goto(f"/inspect/dossiers/{code}")
    rows = page.locator("#steps tbody tr")
    expect(rows).to_have_count(len(steps))
    for index, step in enumerate(steps):
        row = rows.nth(index)
        expect(row).to_have_attribute("data-step", step["step"])
        expect(row).to_have_attribute("data-timeliness", step["timeliness"] or "")
        expect(row.locator("td").nth(2)).to_have_text(step["unit"])
        expect(row.locator("td").nth(7)).to_have_text(VI_WORDS[step["timeliness"]])
        if step["timeliness"] == "late":
            expect(row).to_have_class("step-late")
            expect(row.locator(".over-by")).to_be_visible()
    expect(page.locator("#steps-h")).to_have_text("Các bước của quy trình nội bộ")
    shoot(page, "timeline-steps")
    # The state after the first event: only the first step, begun at receipt, in progress.
    page.locator("#timeline tbody tr").first.get_by_role("link").click()
    expect(page.locator("#state")).to_have_attribute("data-version", "1")
    expect(page.locator("#steps tbody tr")).to_have_count(1)
    expect(page.locator("#steps tbody tr").first).to_have_attribute("data-step", steps[0]["step"])


def test_the_dashboard_ranks_units_by_late_steps_as_the_steps_report_does(
    page: Page, ledger: Ledger
) -> None:
    sign_in(page, ledger)
    last = date.today()
    first = date(last.year - 1, 1, 1)
    page.goto(f"/dashboard?from={first}&to={last}")
    status, body = _get(
        f"{ledger.base}/v1/reports/steps?from={first}&to={last}", ledger.inspector_key
    )
    assert status == 200
    units = msgspec.json.decode(body)["units"][:20]
    assert units and units[0]["late"] > 0
    rows = page.locator("#table-step-units tbody tr")
    expect(rows).to_have_count(len(units))
    for index, unit in enumerate(units):
        row = rows.nth(index)
        expect(row).to_have_attribute("data-agency", unit["agency"])
        expect(row).to_have_attribute("data-unit", unit["unit"])
        expect(row.locator("td").nth(1)).to_have_text(str(unit["late"]))
    expect(page.get_by_role("heading", name="Đơn vị theo số bước trễ hạn")).to_be_visible()
    shoot(page, "dashboard-steps")
