"""Journeys in a real browser: Debian's chromium driven by Playwright against a real uvicorn server
(in a background thread, on a free port) over a fresh SQLite database loaded with the demo data.

Screenshots of every main page land in test-artifacts/screenshots/; the portal, counter console,
enterprise and dashboard ones are copied to docs/screenshots/ for the README when missing, or on
every run with CANCELDESK_UPDATE_SCREENSHOTS=1.
"""
from __future__ import annotations

import csv
import io
import os
import re
import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from canceldesk.demo.data import PEOPLE, add_months
from live_support import DESKTOP, PHONE, chromium, demo_server

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
DOCS_SHOTS = ROOT / "docs" / "screenshots"

CLEAN = "13800138000"        # 张伟: a clean line with something of every kind
ARREARS = "13971208650"      # 李娜: ¥86.50 unpaid
GIFT = "18729035512"         # 周婷: gifted credit forfeited on closure (a warning to read out)
ENTERPRISE_ADMIN = "13905912876"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with demo_server(tmp_path_factory.mktemp("browser") / "web.db") as live:
        yield live


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture()
def page(browser, server):
    base, _ = server
    context = browser.new_context(base_url=base, viewport=DESKTOP, accept_downloads=True, locale="zh-CN")
    context.set_default_timeout(15_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def shot(pg, name: str, docs: bool = False, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=full_page)
    # The README's pictures: written when missing, refreshed on request (no churn on every run).
    if docs and (os.environ.get("CANCELDESK_UPDATE_SCREENSHOTS") == "1" or not (DOCS_SHOTS / f"{name}.png").exists()):
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SHOTS / f"{name}.png")


def _otp_texts(pg, msisdn: str) -> list[str]:
    body = pg.context.request.get(f"/dev/outbox?to={msisdn}").json()
    return [m["text"] for m in body["messages"] if m["event"] == "otp"]


def read_otp(pg, msisdn: str, seen: int) -> str:
    """The newest code in the demo SMS gateway's outbox, as a newcomer reads it (it may take a moment
    to be "delivered" when a worker sends messages)."""
    deadline = time.monotonic() + 15
    while len(texts := _otp_texts(pg, msisdn)) <= seen:
        assert time.monotonic() < deadline, f"no new code was sent to {msisdn}"
        time.sleep(0.1)
    return re.search(r"\b(\d{6})\b", texts[-1]).group(1)


def portal_login(pg, msisdn: str, enterprise: bool = False) -> None:
    pg.goto("/enterprise/login" if enterprise else "/")
    pg.get_by_label("手机号码").fill(msisdn)
    seen = len(_otp_texts(pg, msisdn))
    pg.get_by_role("button", name="获取验证码").click()
    code_field = pg.get_by_label("6 位验证码")
    code_field.wait_for()                                  # the code page is there: the SMS was sent
    code_field.fill(read_otp(pg, msisdn, seen))
    pg.get_by_role("button", name="登录").click()
    pg.wait_for_url(re.compile(r"/enterprise$" if enterprise else r"/$"))


def staff_login(pg, username: str, password: str) -> None:
    pg.goto("/staff/login")
    pg.get_by_label("用户名").fill(username)
    pg.get_by_label("密码").fill(password)
    pg.get_by_role("button", name="登录").click()
    pg.wait_for_url(re.compile(r"/(counter|dashboard)"))


def pdf_text(path: str) -> str:
    from pypdf import PdfReader
    return "\n".join(p.extract_text() for p in PdfReader(path).pages)


def wait_for_status(pg, status: str, timeout: float = 20) -> None:
    pg.locator(f'#status[data-status="{status}"]').wait_for(state="attached", timeout=timeout * 1000)


# ---- journeys ------------------------------------------------------------------------------------
def test_portal_login_unsubscribe_a_vas_and_download_the_receipt(page, tmp_path):
    page.goto("/")
    shot(page, "portal-landing", docs=True)
    portal_login(page, CLEAN)
    assert page.get_by_role("heading", name="我的号码").is_visible()
    shot(page, "portal-my-numbers", docs=True)

    page.get_by_role("link", name=CLEAN).first.click()
    crbt = page.locator('[data-subscription="S-13800138000-VAS-CRBT"]')
    assert "彩铃" in crbt.inner_text() and "¥5.00" in crbt.inner_text()
    effect = crbt.locator('[data-kind="unsubscribe"] .effect').inner_text()
    assert "之后不再扣费" in effect
    shot(page, "portal-line", docs=True)
    crbt.get_by_role("button", name=re.compile("^退订")).click()          # one click, effect shown beside it

    wait_for_status(page, "completed")
    tracking_no = page.locator("#tracking-no").inner_text().strip()
    code = page.locator("#verification-code").inner_text().strip()
    assert re.fullmatch(r"CD\d{8}[0-9A-F]{8}", tracking_no) and re.fullmatch(r"[A-Z2-7]{5}-[A-Z2-7]{5}", code)
    assert "已办结" in page.locator(".request-head").inner_text()
    shot(page, "portal-request-completed", docs=True)

    with page.expect_download() as dl:
        page.locator("#receipt-pdf").click()
    target = tmp_path / "receipt.pdf"
    dl.value.save_as(target)
    assert target.read_bytes().startswith(b"%PDF")
    text = pdf_text(str(target))
    assert tracking_no in text and code in text
    assert "业务办理凭证" in text and "业务退订" in text          # Chinese extracts from the PDF

    page.goto(f"/verify/{code}")                                       # the receipt's QR code points here
    assert page.locator('#verify-result[data-genuine="true"]').is_visible()
    assert tracking_no in page.content() and CLEAN not in page.content()


def test_close_line_blocked_by_arrears_shows_the_amount_and_the_resolution(page):
    portal_login(page, ARREARS)
    page.goto(f"/lines/{ARREARS}")
    page.get_by_role("link", name="注销此号码").click()
    blocked = page.locator("section.blocked")
    assert blocked.get_by_role("heading", name="该号码暂时无法销户").is_visible()
    assert page.locator('.amount-due[data-code="ARREARS"]').inner_text().endswith("¥86.50")
    finding = blocked.locator('li[data-code="ARREARS"]').inner_text()
    assert "欠费 ¥86.50" in finding and "解决办法" in finding and "请先缴清欠费 ¥86.50" in finding
    assert page.get_by_role("button", name="下一步").count() == 0     # nothing to submit
    shot(page, "portal-close-blocked-arrears")
    page.set_viewport_size(PHONE)
    shot(page, "portal-close-blocked-arrears-phone")


def test_cancel_a_renewal_and_see_the_end_date(page):
    portal_login(page, CLEAN)
    page.goto(f"/lines/{CLEAN}")
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    period_end = add_months(today - timedelta(days=12), 1)        # demo: video membership billed 12 days ago
    video = page.locator('[data-subscription="S-13800138000-MEM-VIDEO"]')
    effect = video.locator('[data-kind="cancel_renewal"] .effect').inner_text()
    assert effect == f"会员权益保留至 {period_end.isoformat()}，之后不再扣费"
    video.get_by_role("button", name=re.compile("^取消自动续费")).click()
    wait_for_status(page, "completed")
    page.goto(f"/lines/{CLEAN}")
    video = page.locator('[data-subscription="S-13800138000-MEM-VIDEO"]')
    assert f"不再扣费，可使用至 {period_end.isoformat()}" in video.inner_text()
    assert video.locator('[data-kind="cancel_renewal"]').count() == 0
    page.set_viewport_size(PHONE)
    shot(page, "portal-line-phone")


def test_counter_agent_closes_a_line_for_a_walk_in_customer(page, tmp_path):
    staff_login(page, "agent", "agent-demo-2026")
    shot(page, "counter-home", docs=True)
    person = next(p for p in PEOPLE if p[3] == GIFT)
    doc_type, doc_number = person[2]
    search = page.locator("form", has=page.get_by_role("heading", name="按证件查找"))
    search.get_by_label("证件类型").select_option(doc_type)
    search.get_by_label("证件号码").fill(doc_number)
    search.get_by_role("button", name="查找").click()
    page.wait_for_url(re.compile(r"/counter/customers/C\d+$"))
    assert doc_number not in page.content()                           # masked on screen
    assert doc_number[:3] + "*" * 12 + doc_number[-3:] in page.content()

    page.get_by_label("所出示证件的号码").fill(doc_number)              # the in-person ID check
    page.get_by_role("button", name="记录证件核验").click()
    assert "已核验" in page.locator("#idcheck-state").inner_text()
    assert page.locator("#walkin li[aria-current=step]").get_attribute("data-step") == "3"   # choose the number next
    shot(page, "counter-customer", docs=True)
    page.set_viewport_size(PHONE)                     # the agent's tablet or phone: nothing runs off the side
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    shot(page, "counter-customer-phone")
    page.set_viewport_size(DESKTOP)

    page.locator("tr", has_text=GIFT).get_by_role("link", name="业务与办理").click()
    page.locator("#counter-close").click()
    assert "赠送余额 ¥30.00 不予退还" in page.locator("fieldset.warnings").inner_text()
    page.locator("#ack-GIFT_BALANCE_FORFEIT").check()
    shot(page, "counter-close-impact")
    page.locator("#counter-submit").click()
    wait_for_status(page, "completed")
    assert "销户" in page.locator(".request-head h1").inner_text()
    walk = page.locator("#walkin li")
    assert walk.count() == 6 and walk.nth(5).get_attribute("aria-current") == "step"
    assert page.locator("#tracking-no").inner_text().strip() in walk.nth(5).inner_text()
    assert "agent:" not in page.locator(".timeline").inner_text()
    shot(page, "counter-request-completed")
    with page.expect_download() as dl:
        page.locator("#receipt-pdf").click()
    target = tmp_path / "counter.pdf"
    dl.value.save_as(target)
    assert page.locator("#tracking-no").inner_text().strip() in pdf_text(str(target))


def test_enterprise_batch_of_50_with_3_blocked_ends_partial_with_the_right_csv(page, tmp_path):
    portal_login(page, ENTERPRISE_ADMIN, enterprise=True)
    assert "50" in page.locator("h1").inner_text()
    assert page.locator("#fleet tbody tr").count() == 25                 # paged on the server
    shot(page, "enterprise-lines", docs=True)
    page.get_by_label("选择符合筛选条件的全部 50 个号码").check()
    page.locator("#precheck-selected").click()
    page.wait_for_url(re.compile(r"/enterprise/batches/[\w-]+$"))
    page.locator("#submit-form").wait_for()                               # the pre-check of all 50 lines finished
    assert page.locator("#count-eligible").inner_text() == "47"
    assert page.locator("#count-blocked").inner_text() == "3"
    seen = len(_otp_texts(page, ENTERPRISE_ADMIN))
    page.locator("#close-eligible").click()          # 47 lines: a fresh code to the admin, and the count typed back
    page.get_by_label("短信验证码（发送至您的管理员号码）").fill(read_otp(page, ENTERPRISE_ADMIN, seen))
    page.get_by_label("请输入本次销户的号码数量").fill("47")
    page.locator("#close-eligible").click()
    page.locator("#outcome").wait_for(timeout=60_000)
    page.locator('#outcome[data-outcome="partial"]').wait_for(timeout=60_000)
    assert page.locator("#count-completed").inner_text() == "47"
    assert page.locator("#batch-progress").get_attribute("value") == "50"
    shot(page, "enterprise-batch", docs=True)

    with page.expect_download() as dl:
        page.locator("#csv").click()
    target = tmp_path / "batch.csv"
    dl.value.save_as(target)
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert len(rows) == 50
    assert sum(r["result"] == "completed" for r in rows) == 47
    rejected = {int(r["position"]): r for r in rows if r["result"] != "completed"}
    assert sorted(rejected) == [8, 21, 37]
    assert {p: r["reason_codes"] for p, r in rejected.items()} == {
        8: "ARREARS", 21: "PORT_OUT_PENDING", 37: "CONTRACT_LOCK"}
    assert all(r["tracking_no"] for r in rows)


def test_language_toggle_and_keyboard(page):
    page.goto("/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.get_by_role("heading", name="使用手机号码登录").is_visible()
    page.keyboard.press("Tab")                                            # the first stop skips to the content
    assert page.evaluate("document.activeElement.className") == "skip"
    page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="Log in with your mobile number").is_visible()
    english = page.locator(".hero").inner_text() + page.locator("form").first.inner_text() + page.locator("footer").inner_text()
    assert not re.search(r"[\u4e00-\u9fff]", english.replace("中国大陆", ""))   # the pack's own name is data
    page.get_by_label("Mobile number").fill("12345")                    # the error sits next to the field
    page.get_by_label("Mobile number").press("Enter")
    err = page.locator("#err-msisdn")
    assert "11-digit" in err.inner_text()
    assert page.get_by_label("Mobile number").get_attribute("aria-describedby") == "err-msisdn"
    shot(page, "portal-landing-en")
    page.get_by_role("link", name="中文").click()
    assert page.get_by_role("heading", name="使用手机号码登录").is_visible()
    page.set_viewport_size(PHONE)
    shot(page, "portal-landing-phone")


def test_admin_dashboard_charts_and_csv(page):
    staff_login(page, "admin", "admin-demo-2026")
    page.goto("/dashboard")
    assert int(page.locator("#kpi-total").inner_text()) > 0              # the journeys above made requests
    for panel in ("volumes", "kinds", "channels", "completion", "breaches", "reasons", "codes", "renewals"):
        assert page.locator(f"#{panel} svg.chart").count() == 1, panel
    shot(page, "dashboard", docs=True)
    with page.expect_download() as dl:
        page.locator("#kinds").get_by_role("link", name="导出 CSV").click()
    assert dl.value.suggested_filename.startswith("canceldesk-volumes")
    page.set_viewport_size(PHONE)
    shot(page, "dashboard-phone")
