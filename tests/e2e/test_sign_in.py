from playwright.sync_api import expect

from tests.accounts.factories import AeUserFactory


def test_a_staff_user_signs_in_and_out(sign_in, page, live_server):
    ae = AeUserFactory(first_name="Maria")
    sign_in(ae)
    # Staff land on their workspace's home (/staff/).
    expect(page.get_by_role("heading", name="Home", level=1)).to_be_visible()
    expect(page.locator("main")).to_contain_text("Maria")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_wrong_password_is_said_on_the_page(page, live_server):
    AeUserFactory(email="maria@lightspeed.example")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill("maria@lightspeed.example")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("correct email address and password")
