"""The details on a phone, in both languages: "My requests" as cards that fit the screen, the close
wizard's steps, where the refund goes, and a request page whose "Done" waits until it is done.
Screenshots land in test-artifacts/screenshots/details-*.png."""
from __future__ import annotations

import re

import pytest

from tests.e2e.test_browser import PHONE, browser, page, portal_login, server, shot  # noqa: F401 - fixtures

CLEAN = "13800138000"


def _fits(pg) -> bool:
    return pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("lang, product, kind", [("zh", "VAS-DATA-10G", "unsubscribe"), ("en", "MEM-VIDEO", "cancel_renewal")])
def test_a_phone_shows_my_requests_as_cards_and_honest_steps(page, lang, product, kind):  # noqa: F811
    pg = page
    pg.set_viewport_size(PHONE)
    portal_login(pg, CLEAN)
    if lang == "en":
        pg.goto("/lang/en?next=/")
    pg.goto(f"/lines/{CLEAN}")
    shot(pg, f"details-{lang}-line")
    pg.goto(f"/lines/{CLEAN}/close")
    assert pg.locator("#refund-to").inner_text() == (
        "原路退回（退到原付款方式），通常几天内到账。" if lang == "zh"
        else "Paid back the way you paid (to the original payment method), within a few days.")
    shot(pg, f"details-{lang}-close")
    # end a product from the line page (one click), then look at "My requests"
    pg.goto(f"/lines/{CLEAN}")
    booster = pg.locator(f'[data-subscription="S-{CLEAN}-{product}"] .ending[data-kind="{kind}"] form[action$="/end"] button')
    booster.click()
    pg.wait_for_url(re.compile(r"/requests/\w+$"))
    pg.locator('[data-status="completed"]').wait_for(state="attached", timeout=20_000)
    shot(pg, f"details-{lang}-request")
    pg.goto("/")
    cards = pg.locator("#my-requests .request-card")
    assert cards.count() >= 1 and pg.locator("#my-requests table").count() == 0
    assert _fits(pg), "the home page scrolls sideways on a phone"
    shot(pg, f"details-{lang}-home")
