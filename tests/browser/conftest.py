"""The pages in a real headless Chromium (Debian's `chromium`, driven by Playwright for Python).

One ledger with demo data served by uvicorn on a loopback port, one browser for the session.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from api.app import create_app
from application.bootstrap import Database
from application.demo import load_demo
from application.keys import Role
from application.runtime import Runtime
from application.settings import Settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 768}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@dataclass(frozen=True)
class Ledger:
    base: str
    runtime: Runtime
    inspector_key: str
    handler_key: str
    samples: list[tuple[str, str]]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


@pytest.fixture(scope="package")
def ledger(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    from application.bootstrap import migrate  # noqa: PLC0415
    from tests.conftest import create_database, drop_database  # noqa: PLC0415

    name = f"t_browser_{int(time.time())}"
    url = create_database(postgres_url, name)
    database: Database = migrate(url, app_role="ledger_app")
    settings = Settings(
        database_url=database.url,
        data_dir=tmp_path_factory.mktemp("pages"),
        checkpoint_every_seconds=0.5,
        checkpoint_every_events=50,
        public_rate_limit_per_minute=500,
    )
    runtime = Runtime.start(settings)
    report = load_demo(runtime, dossiers=240, seed=2026)
    _, inspector_key = runtime.keys.issue(Role.INSPECTOR, (), "thanh-tra-tinh")
    _, handler_key = runtime.keys.issue(Role.HANDLER, ("000.00.31.H56",), "mot-cua")
    app = create_app(settings, runtime=runtime, run_projections=True)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_projected(base, inspector_key, runtime)
        yield Ledger(base, runtime, inspector_key, handler_key, report.samples)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        runtime.close()
        drop_database(postgres_url, name)


def _wait_until_projected(base: str, token: str, runtime: Runtime, seconds: float = 120) -> None:
    """Until every event is projected and in a signed checkpoint."""
    head = runtime.ledger.recorder.max_notification_id() or 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, body = _get(f"{base}/health")
        lags = []
        if status == 200:
            import msgspec  # noqa: PLC0415

            lags = [p["lag"] for p in msgspec.json.decode(body)["projections"].values()]
        status, note = _get(f"{base}/v1/audit/checkpoint", token)
        size = int(note.decode().split("\n")[1]) if status == 200 else -1
        if lags and max(lags) == 0 and size >= head:
            return
        time.sleep(0.3)
    raise AssertionError("the projections or the checkpoint did not catch up")


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One browser for these tests. Playwright's sync API keeps an event loop running in this
    thread while it is open: it must close before other packages' async tests run."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@dataclass
class Outside:
    """Requests the page tried to send anywhere but the ledger (they are aborted)."""

    urls: list[str]


@pytest.fixture(params=[PHONE, DESKTOP], ids=["phone", "desktop"])
def viewport(request: pytest.FixtureRequest) -> dict[str, int]:
    return dict(request.param)


@pytest.fixture
def page(browser: Browser, ledger: Ledger, viewport: dict[str, int]) -> Iterator[Page]:
    context = browser.new_context(viewport=viewport, base_url=ledger.base)
    outside = Outside([])

    def route(route_: object) -> None:
        request = route_.request  # type: ignore[attr-defined]
        if request.url.startswith(ledger.base) or request.url.startswith("data:"):
            route_.continue_()  # type: ignore[attr-defined]
        else:
            outside.urls.append(request.url)
            route_.abort()  # type: ignore[attr-defined]

    context.route("**/*", route)
    opened = context.new_page()
    opened.outside = outside  # type: ignore[attr-defined]
    yield opened
    context.close()
    assert outside.urls == [], f"requests left the host: {outside.urls}"


CONTRAST_JS = """() => {
  const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const poor = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "none") continue;
    const [a, b] = [lum(rgb(style.color).slice(0, 3)), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const text = el.textContent.trim().slice(0, 30);
    if (ratio < 4.5) poor.push(el.tagName + " " + text + " " + ratio.toFixed(2));
  }
  return poor;
}"""


def assert_readable(page: Page, name: str) -> None:
    """No sideways scrolling (WCAG reflow), and every text at a contrast of 4.5:1 or more (AA)."""
    width = page.viewport_size["width"] if page.viewport_size else 0
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{name} scrolls sideways: {scroll_width} px in {width} px"
    poor = page.evaluate(CONTRAST_JS)
    assert poor == [], f"{name}: text below WCAG AA contrast: {poor}"


def shoot(page: Page, name: str) -> None:
    """Checks that the page reads well; with LEDGER_TEST_SCREENSHOTS=1, also refreshes its
    screenshot in docs/screenshots (phone and desktop sizes)."""
    assert_readable(page, name)
    if os.environ.get("LEDGER_TEST_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = "phone" if page.viewport_size and page.viewport_size["width"] < 600 else "desktop"
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{size}.png"), full_page=True)
