"""A real browser for the portal: Debian's Chromium driven by Playwright, on phone devices.

The portal is served from the test process (the suite's ``app``, so the same database and
the same per-test table cleanup), and every test gets phones: browser contexts that emulate
a device and record each JavaScript error and Content-Security-Policy violation, which fail
the test. Screenshots go to ``test-artifacts/screenshots/`` at the repository root.

Nothing is downloaded: set ``PORTAL_CHROMIUM`` to use another Chromium binary.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

HOW_TO_GET_THEM = (
    "browser tests need Debian's chromium (apt-get install chromium) "
    "and the playwright package (pip install -e '.[test]')"
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 10_000
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DEVICES = {"iPhone 13": "iphone13", "Pixel 5": "pixel5"}
# A desk's screen, for the people who work at one; a test opens it with `phones.open(device=...)`.
DESKTOP = "Desktop 1280x800"
DESKTOP_DESCRIPTOR = {
    "viewport": {"width": 1280, "height": 800},
    "screen": {"width": 1280, "height": 800},
    "device_scale_factor": 1,
    "is_mobile": False,
    "has_touch": False,
}
SHORT_NAMES = {**DEVICES, DESKTOP: "desktop"}
CLIENT_EMAIL = "dana@acme.test"
CSP_MESSAGE = re.compile(r"Content.Security.Policy|CSP violation", re.IGNORECASE)
HTMX_ABORT_REPORTS = ("htmx:sendAbort,", "htmx:afterRequest,")
CALL_FAILED = pytest.StashKey[bool]()

# Chromium reports a blocked resource as a console error; the page also reports it through
# the `securitypolicyviolation` event, which this script turns into a console error we know.
CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", function (event) {
  console.error("CSP violation: " + event.violatedDirective + " blocked " +
                (event.blockedURI || "inline") + " at " + event.sourceFile + ":" +
                event.lineNumber);
});
"""


def _chromium() -> str | None:
    candidate = os.environ.get("PORTAL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return candidate if Path(candidate).is_file() and os.access(candidate, os.X_OK) else None


@pytest.fixture(scope="session")
def playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(HOW_TO_GET_THEM)
    if _chromium() is None:
        pytest.skip(HOW_TO_GET_THEM)
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright):
    browser = playwright.chromium.launch(
        executable_path=_chromium(), args=CHROMIUM_ARGS, headless=True
    )
    yield browser
    browser.close()


class _QuietHandler(WSGIRequestHandler):
    """Serves like werkzeug's handler but logs only errors, not every request."""

    def log_request(self, *args, **kwargs) -> None:
        pass


@pytest.fixture(scope="session")
def live_server(app):
    """The portal on a free local port, served by a thread of this process; its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="portal-live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def password(accounts) -> str:
    """The password the suite's ``Accounts`` helper gives everyone it makes (read from the
    module that defines the helper, whichever way pytest imported tests/conftest.py)."""
    return sys.modules[type(accounts).__module__].PASSWORD


@pytest.fixture
def portal(live_server, change_request_form, client_user):
    """The shipped change-request form, published, and a client (Dana of Acme Ltd)."""
    return live_server


@pytest.fixture(params=list(DEVICES), ids=list(DEVICES.values()))
def device(request) -> str:
    return request.param


class Phone:
    """One browser context emulating a phone (or another device), with the page open in it."""

    def __init__(self, owner: Phones, context, name: str, device: str | None = None):
        self.owner = owner
        self.context = context
        self.name = name
        self.device = device or owner.device
        self.page = context.new_page()

    def go(self, path: str):
        return self.page.goto(self.owner.base_url + path)

    def sign_in(self, email: str = CLIENT_EMAIL, then: str | None = None) -> None:
        """Sign in through the login page, as a person does."""
        self.go("/login" + (f"?next={then}" if then else ""))
        self.page.get_by_label("E-mail address").fill(email)
        self.page.get_by_label("Password").fill(self.owner.password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_load_state()
        assert "/login" not in self.page.url, f"sign-in failed: still on {self.page.url}"

    def shot(self, step: str) -> Path:
        """A full-page screenshot: <test>-<device>-<step>.png."""
        path = SCREENSHOTS / f"{self.owner.test_name}-{SHORT_NAMES[self.device]}-{step}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path), full_page=True, scale="css")
        return path


class Phones:
    """Opens phones of one device for a test and collects what goes wrong in their pages."""

    def __init__(
        self,
        browser,
        base_url: str,
        device: str,
        descriptor: dict,
        test_name: str,
        password: str,
        catalogue: dict | None = None,
    ):
        self.browser = browser
        self.base_url = base_url
        self.device = device
        self.descriptor = {k: v for k, v in descriptor.items() if k != "default_browser_type"}
        # Other devices a test may open a context on: Playwright's, and the desktop.
        self.catalogue = {**(catalogue or {}), DESKTOP: DESKTOP_DESCRIPTOR}
        self.test_name = test_name
        self.password = password
        self.phones: list[Phone] = []
        self.problems: list[str] = []

    def open(
        self,
        name: str = "phone",
        device: str | None = None,
        *,
        locale: str = "en-GB",
        timezone_id: str = "Europe/London",
    ) -> Phone:
        """A fresh browser context (no cookies), in British English and London time unless
        told otherwise, on the test's device or on another one (a name in Playwright's
        devices, or DESKTOP)."""
        descriptor = self.descriptor
        if device is not None and device != self.device:
            descriptor = {
                k: v for k, v in self.catalogue[device].items() if k != "default_browser_type"
            }
        context = self.browser.new_context(**descriptor, locale=locale, timezone_id=timezone_id)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        context.add_init_script(CSP_REPORTER)
        phone = Phone(self, context, name, device)
        phone.page.on("console", lambda msg, phone=phone: self._console(phone, msg))
        phone.page.on("requestfailed", lambda req, phone=phone: self._request_failed(phone, req))
        phone.page.on(
            "pageerror",
            lambda exc, phone=phone: self.problems.append(
                f"[{phone.name}] JavaScript error on {phone.page.url}: {exc}"
            ),
        )
        self.phones.append(phone)
        return phone

    def _console(self, phone: Phone, msg) -> None:
        if msg.type != "error":
            return
        text = msg.text
        location = msg.location.get("url", "") if msg.location else ""
        if location.endswith("/favicon.ico") and text.startswith("Failed to load resource"):
            return  # the browser asks for an icon no page links to; not the page's doing
        if text.startswith(HTMX_ABORT_REPORTS):
            return  # htmx reports every aborted request; `_request_failed` judges those
        kind = "CSP violation" if CSP_MESSAGE.search(text) else "console error"
        self.problems.append(f"[{phone.name}] {kind} on {phone.page.url} ({location}): {text}")

    def _request_failed(self, phone: Phone, request) -> None:
        # An autosave still under way when the page is left (Submit, a link) is cancelled.
        if request.method == "POST" and request.url.endswith("/draft"):
            return
        # Following a link cancels what the page was still loading.
        if request.method == "GET" and request.failure == "net::ERR_ABORTED":
            return
        self.problems.append(
            f"[{phone.name}] request failed on {phone.page.url}: {request.method} {request.url}"
            f" ({request.failure})"
        )

    def assert_clean(self) -> None:
        """No JavaScript error and no Content-Security-Policy violation in any page so far."""
        problems, self.problems = self.problems, []
        assert not problems, "the pages reported problems:\n" + "\n".join(problems)

    def close(self) -> None:
        for phone in self.phones:
            phone.context.close()


@pytest.fixture
def phones(request, playwright, browser, portal, device, password):
    """Phones of the test's device, on a portal with the form and a client; failing the test
    on any JavaScript error or CSP violation their pages report."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    test_name = request.node.originalname.removeprefix("test_")
    opened = Phones(
        browser,
        portal,
        device,
        playwright.devices[device],
        test_name,
        password,
        catalogue=playwright.devices,
    )
    yield opened
    try:
        if not request.node.stash.get(CALL_FAILED, False):
            opened.assert_clean()  # what happened after the test's own last check
    finally:
        opened.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember whether the test itself failed, so its phones do not report it twice."""
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed or hasattr(report, "wasxfail")
    return report
