"""The web portal in a real browser: Debian's `chromium` driven by Playwright (launched with
``executable_path``; `make setup` installs the package), on a 360 × 640 screen, against the whole
stack as `make run` starts it (the ``stack`` fixture of tests/conftest.py, one per test module).

Every ``portal`` page records what went wrong in the browser — a script error, a console error,
a request that failed — and the test fails at teardown if anything did that the test did not
expect. Screenshots of every page go to ``<basetemp>/portal-screenshots/`` (the path is printed
at the end of the run)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    Response,
    sync_playwright,
)

from services.devstack.launch import Stack, start_stack
from tests.conftest import unavailable
from tests.gateway.conftest import gateway_client  # noqa: F401  (the in-process gateway, for test_portal_assets)

VIEWPORT = {"width": 360, "height": 640}
#: Where the phones are: Menteng, Jakarta (between the demo clinic and the hospital).
LOCATION = {"latitude": -6.1960, "longitude": 106.8300}
#: Chromium's console line for an HTTP answer of 4xx/5xx: the API's refusals, which a page shows in words.
_REFUSED = re.compile(r"Failed to load resource: the server responded with a status of (\d{3})")
_axe = Axe()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole stack as `make run` starts it, one per test module (as tests/conftest.py's), given
    longer to become ready: the browser tests share the machine with the rest of the suite."""
    running = start_stack(tmp_path_factory.mktemp("stack"))
    try:
        running.wait_ready(timeout_s=180)
        yield running
    finally:
        running.stop()


# Module scope: Playwright's sync API runs an event loop in this thread while it is open, which the
# asyncio tests of other modules must not find running.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        unavailable("Debian's chromium is not installed (make setup installs it)")
    chromium = playwright.chromium.launch(executable_path=executable)
    yield chromium
    chromium.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("portal-screenshots", numbered=False)


@dataclass
class Portal:
    """One browser context (a person's phone) on the portal, and what went wrong in it."""

    base: str
    context: BrowserContext
    page: Page
    shots: Path
    name: str
    problems: list[str] = field(default_factory=list)
    refusals: list[int] = field(default_factory=list)
    offline: bool = False

    def open(self, path: str = "/") -> None:
        self.page.goto(self.base + path)

    def shot(self, label: str) -> Path:
        """A full-page screenshot, and the 360 px layout check: nothing wider than the screen."""
        path = self.shots / f"{self.name}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= VIEWPORT["width"], f"{label}: the page is {width} px wide on a {VIEWPORT['width']} px screen"
        return path

    def accessible(self, label: str) -> None:
        """No serious or critical axe-core violation on the page as it is now."""
        violations = _axe.run(self.page).response["violations"]
        grave = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]]) for v in violations
                 if v["impact"] in ("serious", "critical")]
        assert grave == [], f"{label}: {grave}"

    def set_offline(self, offline: bool) -> None:
        self.offline = offline
        self.context.set_offline(offline)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        refused = _REFUSED.search(message.text)
        if refused and int(refused.group(1)) < 500 and int(refused.group(1)) in self.refusals:
            return  # a refusal of the API, which the page shows in words (the tests check that it does)
        self.problems.append(f"console error: {message.text}")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.refusals.append(response.status)
        if response.status >= 500:
            self.problems.append(f"{response.status} from {response.request.method} {response.url}")

    def _failed(self, request: Request) -> None:
        if not self.offline:
            self.problems.append(f"request failed: {request.method} {request.url} ({request.failure})")


@pytest.fixture
def portal_for(browser: Browser, stack: Stack, screenshots: Path, request: pytest.FixtureRequest) -> Iterator:
    """``portal_for(label)``: a new phone (browser context) on the portal; several per test are allowed."""
    opened: list[Portal] = []

    def open_portal(label: str = "") -> Portal:
        context = browser.new_context(viewport=VIEWPORT, locale="id-ID", timezone_id="Asia/Jakarta",
                                      permissions=["geolocation"], geolocation=LOCATION)
        context.set_default_timeout(10_000)
        page = context.new_page()
        name = re.sub(r"\W+", "-", request.node.name).strip("-") + (f"-{label}" if label else "")
        portal = Portal(stack.gateway, context, page, screenshots, name)
        page.on("pageerror", lambda error: portal.problems.append(f"script error: {error}"))
        page.on("console", portal._console)
        page.on("response", portal._response)
        page.on("requestfailed", portal._failed)
        opened.append(portal)
        return portal

    yield open_portal
    problems = [p for portal in opened for p in portal.problems]
    for portal in opened:
        portal.context.close()
    assert problems == [], problems


@pytest.fixture
def portal(portal_for) -> Portal:
    return portal_for()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    base = getattr(config, "_tmp_path_factory", None)
    if base is not None:
        shots = base.getbasetemp() / "portal-screenshots"
        if shots.exists():
            terminalreporter.write_line(f"portal screenshots: {shots}")
