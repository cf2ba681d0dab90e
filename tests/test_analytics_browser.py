"""Knowledge gaps in headless Chromium against the real app: a supervisor and editor drafts an
article from a gap, publishes it, and re-checks the gap's questions; the dashboard is saved as
a screenshot with the test output."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from bot.app import create_app
from bot.config import Settings
from bot.db import session_scope
from bot.staff.users import create_user
from tests.browser import ARTIFACTS, serve
from tests.conftest import KB_DIR

pytestmark = [pytest.mark.browser, pytest.mark.timeout(1500)]
PASSWORD = "correct horse battery"
CRYPTO = [
    "Can I pay with dogecoin?",
    "Do you accept cryptocurrency like bitcoin?",
    "Is it possible to pay using crypto coins?",
    "Can I pay for my order with crypto money?",
]
ARTICLE = (
    "We do not accept cryptocurrency: no bitcoin, no dogecoin and no other crypto coins. "
    "You can pay for your order with a card, PayPal or a bank transfer."
)


@pytest.fixture
def site(kb_index_dir: Path, tmp_path: Path) -> Iterator[str]:
    settings = Settings(
        data_dir=kb_index_dir,
        database_url=f"sqlite:///{tmp_path / 'chat.db'}",
        kb_dir=KB_DIR,
        secret_key="k" * 32,
        business_hours="always",
        handoff_threshold=0.5,  # the KB's questions are answered, the crypto ones are not
        rate_limit_ip_per_minute=1000,
    )
    app = create_app(settings)
    with serve(app) as base_url:
        with session_scope(app.state.sessionmaker) as session:
            roles = ["editor", "supervisor"]
            create_user(
                session=session, email="sue@x.com", name="Sue", password=PASSWORD, roles=roles
            )
        with httpx.Client(base_url=base_url, timeout=120) as client:
            for pair in (CRYPTO[:2], CRYPTO[2:]):  # two customers, each asks twice
                created = client.post("/api/conversations", json={}).json()
                auth = {"authorization": f"Bearer {created['token']}"}
                for n, text in enumerate(pair):
                    body = {"text": text, "client_id": f"m{n}"}
                    client.post(
                        f"/api/conversations/{created['conversation_id']}/messages",
                        json=body,
                        headers=auth,
                    )
        yield base_url


def test_draft_an_article_from_a_gap_publish_it_and_recheck(chromium: Browser, site: str) -> None:
    page = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{site}/analytics")
    page.get_by_label("Email").fill("sue@x.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{site}/analytics")
    expect(page.locator('[data-figure="conversations"]')).to_have_text("2")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "analytics-dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"dashboard screenshot: {shot}")

    page.get_by_role("link", name="Knowledge gaps").first.click()
    gap = page.locator("article.gap").first
    for question in CRYPTO:
        expect(gap).to_contain_text(question)
    gap.get_by_role("button", name="Re-check").click()
    expect(page.locator("article.gap .recheck").first).to_contain_text("now answers 0 of 4")

    page.locator("article.gap").first.get_by_role("button", name="Draft article").click()
    expect(page).to_have_url(f"{site}/kb/draft")
    expect(page.locator("#draft-notice")).to_be_visible()
    body = page.get_by_label("Markdown").input_value()
    assert all(question in body for question in CRYPTO)
    assert page.get_by_label("Title").input_value() in CRYPTO
    page.get_by_label("Id (letters, digits, - . _)").fill("paying-with-crypto")
    page.get_by_label("Markdown").fill(body.replace("## Answer\n\n", f"## Answer\n\n{ARTICLE}\n"))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved as version 1 and indexed.")

    page.goto(f"{site}/analytics/gaps")
    page.locator("article.gap").first.get_by_role("button", name="Re-check").click()
    result = page.locator("article.gap .recheck").first
    expect(result).to_contain_text("of 4 questions")
    answered = int(re.search(r"answers (\d+) of 4", result.inner_text()).group(1))
    assert answered > 0  # the loop closes with a number
