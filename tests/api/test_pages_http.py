"""The pages over HTTP: the shared rate limit, sign-in's cookie and CSRF rules, sessions that end,
CSV, and assets that all come from the ledger itself (the browser tests drive the rest)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from application.keys import Role
from application.runtime import Runtime
from tests.api.test_read_api import SECRET, a_resolved_dossier

pytestmark = pytest.mark.anyio
BASE = "http://ledger.test"


@pytest.fixture
async def pages(runtime: Runtime) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    app = create_app(runtime.settings, runtime=runtime, run_projections=True)
    async with AsyncTestClient(app=app, base_url=BASE) as test_client:
        yield test_client


async def sign_in(
    client: AsyncTestClient,
    token: str,
    origin: str = BASE,  # type: ignore[type-arg]
) -> object:
    form = await client.get("/inspect/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    return await client.post(
        "/inspect/sign-in",
        data={"key": token, "csrf": csrf.group(1), "next": "/inspect"},
        headers={"Origin": origin},
        follow_redirects=False,
    )


async def test_the_page_and_the_api_share_one_rate_limit(
    pages: AsyncTestClient,
    handler_headers: dict[str, str],  # type: ignore[type-arg]
) -> None:
    code = await a_resolved_dossier(pages, handler_headers)
    statuses = []
    for _ in range(25):
        answer = await pages.get(f"/v1/public/dossiers/{code}", headers={"X-Lookup-Secret": SECRET})
        statuses.append(answer.status_code)
    for _ in range(20):
        answer = await pages.post("/lookup", data={"code": code, "secret": SECRET})
        statuses.append(answer.status_code)
    assert statuses[:25] == [200] * 25  # the limit is 40 a minute for both together
    assert statuses[25:40] == [200] * 15 and statuses[40:] == [429] * 5
    assert answer.headers["content-type"].startswith("text/html")
    assert "Tra cứu quá nhiều lần" in answer.text


async def test_a_wrong_secret_and_an_unknown_code_get_the_same_page(
    pages: AsyncTestClient,
    handler_headers: dict[str, str],  # type: ignore[type-arg]
) -> None:
    code = await a_resolved_dossier(pages, handler_headers)
    wrong = await pages.post("/lookup", data={"code": code, "secret": "WRONG1"})
    unknown = await pages.post(
        "/lookup", data={"code": "000.00.31.H56-200101-9999", "secret": "WRONG1"}
    )
    malformed = await pages.post("/lookup", data={"code": "not a code", "secret": "WRONG1"})
    assert wrong.status_code == unknown.status_code == malformed.status_code == 404
    assert wrong.text == unknown.text.replace("000.00.31.H56-200101-9999", code)
    found = await pages.post("/lookup", data={"code": code, "secret": SECRET})
    assert found.status_code == 200 and "Trước hạn" in found.text  # resolved early
    assert SECRET not in found.text and "APPLICANT-SECRET-REF" not in found.text
    assert "cb-0042" not in found.text and "ghi chú nội bộ" not in found.text


async def test_sign_in_gives_a_strict_http_only_cookie_of_eight_hours(
    pages: AsyncTestClient,
    inspector_headers: dict[str, str],  # type: ignore[type-arg]
) -> None:
    token = inspector_headers["Authorization"].removeprefix("Bearer ")
    answer = await sign_in(pages, token)
    assert answer.status_code == 303 and answer.headers["location"] == "/inspect"  # type: ignore[attr-defined]
    cookie = next(
        value
        for name, value in answer.headers.multi_items()  # type: ignore[attr-defined]
        if name == "set-cookie" and value.startswith("ledger_session=")
    )
    assert (
        "HttpOnly" in cookie
        and "SameSite=strict" in cookie.replace("Strict", "strict")
        and "Max-Age=28800" in cookie
    )
    assert "Secure" not in cookie  # plain HTTP here; over TLS it is Secure (next test)
    home = await pages.get("/inspect")
    assert home.status_code == 200 and "inspectorate" in home.text


async def test_over_tls_the_session_cookie_is_secure(runtime: Runtime) -> None:
    _, token = runtime.keys.issue(Role.INSPECTOR, (), "tls-inspector")
    app = create_app(runtime.settings, runtime=runtime)
    async with AsyncTestClient(app=app, base_url="https://ledger.test") as client:
        answer = await sign_in(client, token, origin="https://ledger.test")
        assert "Secure" in answer.headers["set-cookie"]  # type: ignore[attr-defined]


async def test_sign_in_refuses_a_form_from_another_site_or_without_its_token(
    pages: AsyncTestClient,
    inspector_headers: dict[str, str],  # type: ignore[type-arg]
) -> None:
    token = inspector_headers["Authorization"].removeprefix("Bearer ")
    assert (await sign_in(pages, token, origin="https://evil.example")).status_code == 403  # type: ignore[attr-defined]
    await pages.get("/inspect/sign-in")
    forged = await pages.post(
        "/inspect/sign-in", data={"key": token, "csrf": "guessed"}, headers={"Origin": BASE}
    )
    assert forged.status_code == 403
    assert "ledger_session" not in pages.cookies


async def test_a_handler_key_or_an_unknown_key_cannot_sign_in(
    pages: AsyncTestClient,
    handler_headers: dict[str, str],  # type: ignore[type-arg]
) -> None:
    handler = await sign_in(pages, handler_headers["Authorization"].removeprefix("Bearer "))
    assert handler.status_code == 401 and "cần khóa thanh tra" in handler.text  # type: ignore[attr-defined]
    unknown = await sign_in(pages, "dl_nothing_here")
    assert unknown.status_code == 401 and "không tồn tại" in unknown.text  # type: ignore[attr-defined]


async def test_sign_out_and_revocation_end_the_session(
    pages: AsyncTestClient,
    runtime: Runtime,  # type: ignore[type-arg]
) -> None:
    key, token = runtime.keys.issue(Role.INSPECTOR, (), "short-lived")
    await sign_in(pages, token)
    session = pages.cookies["ledger_session"]
    home = await pages.get("/inspect")
    csrf = re.search(r'name="csrf" value="([^"]+)"', home.text)
    assert csrf is not None
    out = await pages.post(
        "/inspect/sign-out",
        data={"csrf": csrf.group(1)},
        headers={"Origin": BASE},
        follow_redirects=False,
    )
    assert out.status_code == 303
    pages.cookies.set("ledger_session", session)  # the old cookie, kept by someone
    again = await pages.get("/inspect", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/inspect/sign-in")

    pages.cookies.clear()
    await sign_in(pages, token)
    assert (await pages.get("/inspect", follow_redirects=False)).status_code == 200
    runtime.keys.revoke(key.key_id)
    revoked = await pages.get("/inspect", follow_redirects=False)
    assert revoked.status_code == 303


async def test_lists_and_dashboard_tables_download_as_csv(
    pages: AsyncTestClient,
    handler_headers: dict[str, str],
    runtime: Runtime,  # type: ignore[type-arg]
) -> None:
    code = await a_resolved_dossier(pages, handler_headers)
    _, token = runtime.keys.issue(Role.INSPECTOR, (), "csv-reader")
    await sign_in(pages, token)
    listing = await pages.get("/inspect/dossiers.csv", params={"agency": code[:13]})
    assert listing.headers["content-type"].startswith("text/csv")
    assert listing.text.splitlines()[0].startswith("code,procedure,agency")
    assert code in listing.text
    for table in ("indicators", "agencies", "months", "procedures"):
        answer = await pages.get(
            f"/dashboard/csv/{table}", params={"from": "2026-03-01", "to": "2026-03-31"}
        )
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    agencies = (await pages.get("/dashboard/csv/agencies?from=2026-03-01&to=2026-03-31")).text
    assert agencies.splitlines()[0] == "rank,agency,on_time_rate,numerator,denominator,open_overdue"


async def test_every_asset_is_served_by_the_ledger(pages: AsyncTestClient) -> None:  # type: ignore[type-arg]
    for path in ("/", "/inspect/sign-in"):
        answer = await pages.get(path)
        assert "default-src 'self'" in answer.headers["content-security-policy"]
        assert '<html lang="vi">' in answer.text
        for url in re.findall(r'(?:src|href)="([^"#]+)"', answer.text):
            assert url.startswith("/") and not url.startswith("//"), url
            if url.startswith("/static/"):
                assert (await pages.get(url)).status_code == 200, url
