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
