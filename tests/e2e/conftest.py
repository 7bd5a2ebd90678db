"""Browser tests: Playwright driving Debian's chromium against Django's live_server.

Playwright cannot download its own browser on these machines (PITFALLS.md), so the session
fixture points it at /usr/bin/chromium with the flags a closed network needs. live_server
runs in a thread of this process and Playwright's sync API runs an event loop, hence
DJANGO_ALLOW_ASYNC_UNSAFE; the database must be transactional so the server thread sees
what the test wrote.
"""

import os
import shutil

import pytest

from tests.accounts.factories import PASSWORD

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.django_db(transaction=True))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found: apt-get install -y --no-upgrade chromium")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
        ],
    }


@pytest.fixture
def sign_in(page, live_server):
    """sign_in(user) → the page, signed in through the real login form."""

    def sign_in_as(user, password=PASSWORD):
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        return page

    return sign_in_as


def sign_out(page):
    """Sign out through the header; on a phone it is folded behind "Menu" first."""
    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible():
        menu.click()
    page.get_by_role("button", name="Sign out").click()


# --- Phones and accessibility (issue 15) --------------------------------------------------------

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(page):
    """The page at a 390 px wide phone viewport."""
    page.set_viewport_size(PHONE)
    return page


def page_fits(page) -> None:
    """No page wider than the viewport: nothing scrolls sideways."""
    page.wait_for_load_state("load")
    width, viewport = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= viewport, f"{page.url} is {width}px wide in a {viewport}px viewport"


def page_accessible(page) -> None:
    """axe-core (axe-playwright-python, which injects its bundled axe.min.js through the
    browser's evaluation channel, untouched by the page's Content-Security-Policy) finds
    no violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"


def page_checked(page) -> None:
    """Both: fits a phone and axe finds nothing."""
    page_fits(page)
    page_accessible(page)
