"""The console's browser tests: a real `sluice up` on loopback, Debian's Chromium driven by
Playwright, and a numbered screenshot of each step saved under test-artifacts/browser/<test>/.

Chromium is the distribution's package (`make browser` installs it when missing, as root); the
`playwright` pip package drives it through its executable path. `playwright install` is never
used: it downloads a browser build of its own.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from sluice.testing import SluiceTesting
from sluice.testing.client import ClockControl

from ..server import SluiceProcess

CHROMIUM = os.environ.get("SLUICE_CHROMIUM", "/usr/bin/chromium")
# What headless Chromium needs here (root, no GPU, no network beyond loopback): no sandbox (it
# refuses to start as root with one), nothing fetched in the background, no first-run work.
# Playwright adds --headless and a fresh, empty --user-data-dir of its own for each launch.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("SLUICE_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
CONSOLE = "/_sluice/console/"
# How long a step may wait for the page to show what it expects: generous on a loaded 2-core
# machine, and only ever reached when the test is about to fail.
STEP_TIMEOUT_MS = 15_000
expect.set_options(timeout=STEP_TIMEOUT_MS)

_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Remember a failed call so the page fixture can save a last screenshot of what was shown."""
    report = yield
    if call.when == "call" and getattr(report, "failed", False):
        item.stash[_FAILED] = True
    return report


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it is open, and the tests a worker runs after these ones call asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make browser` installs Debian's package "
                    "(as root), or set SLUICE_CHROMIUM to a Chromium binary")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


class Steps:
    """Numbered full-page screenshots of one test: 01-bucket-created.png, 02-..."""

    def __init__(self, page: Page, directory: Path) -> None:
        self.page = page
        self.directory = directory
        self.count = 0

    def shot(self, name: str, page: Page | None = None) -> Path:
        """Save what `page` (default: the test's page) shows now, numbered after the last step."""
        self.count += 1
        path = self.directory / f"{self.count:02d}-{_slug(name)}.png"
        (page or self.page).screenshot(path=str(path), full_page=True)
        return path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:80] or "step"


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """This test's artifact directory (emptied first: the screenshots of the last run only)."""
    directory = ARTIFACTS / "browser" / _slug(request.node.nodeid.split("::", 1)[-1])
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.png"):
        old.unlink()
    return directory


class Watch:
    """What the test's tabs did besides what the test looks at: every URL they requested, and
    every script error or console error (a CSP violation is one: an inline script, a style
    attribute or a file from another origin the console's policy refused)."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.errors: list[str] = []

    def attach(self, tab: Page) -> None:
        tab.on("request", lambda r: self.urls.append(r.url))
        tab.on("pageerror", lambda exc: self.errors.append(f"{tab.url}: {exc}"))
        tab.on("console", lambda msg: self._console(tab, msg.type, msg.text))

    def _console(self, tab: Page, kind: str, text: str) -> None:
        # A 4xx the page shows on purpose (AccessDenied, a refused sign-in) is logged by Chromium
        # as "Failed to load resource": that is the page working, not a fault of it.
        if kind == "error" and not text.startswith("Failed to load resource"):
            self.errors.append(f"{tab.url}: {text}")

    def elsewhere(self, origin: str) -> list[str]:
        """The URLs requested from anywhere but `origin` (and the tab's own about:blank)."""
        return [u for u in self.urls if not u.startswith(origin + "/") and not u.startswith("about:")]


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def context(browser: Browser, watch: Watch) -> Iterator[BrowserContext]:
    """A fresh browser profile for each test: no cookies, no cache, nothing of the last test."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    ctx.set_default_timeout(STEP_TIMEOUT_MS)
    ctx.on("page", watch.attach)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Page]:
    tab = context.new_page()
    yield tab
    if request.node.stash.get(_FAILED, False):  # what every tab of the test showed at the end
        for n, shown in enumerate(context.pages, 1):
            shown.screenshot(path=str(artifacts / f"failed-tab{n}.png"), full_page=True)


@pytest.fixture
def steps(page: Page, artifacts: Path) -> Steps:
    return Steps(page, artifacts)


StartServer = Callable[..., SluiceProcess]


@pytest.fixture(scope="module")
def start_sluice(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartServer]:
    """Start `sluice up` servers with the given flags; all stopped at the module's end."""
    started: list[SluiceProcess] = []

    def start(*args: str) -> SluiceProcess:
        server = SluiceProcess(tmp_path_factory.mktemp("console") / "data", *args).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def console_url(server: SluiceProcess, path: str = "") -> str:
    return server.endpoint + CONSOLE + path.lstrip("/")


def clock_of(server: SluiceProcess) -> ClockControl:
    """The server's manual clock, driven through the testing API (`sluice up --clock manual`)."""
    return SluiceTesting(server.endpoint).clock


def sign_in(page: Page, server: SluiceProcess, access_key: str = "test", secret: str = "test") -> None:
    """Through the sign-in page every page sends a visitor to under --enforce-iam (test/test:
    the account's root)."""
    page.goto(console_url(server))
    page.wait_for_url(re.compile(r"/sign-in"))
    page.get_by_label("Access key ID").fill(access_key)
    page.get_by_label("Secret access key").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/_sluice/console/$"))
