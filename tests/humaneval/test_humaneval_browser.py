"""Acceptance: a rater in headless Chromium (Debian's chromium + chromium-driver, driven by Selenium)
opens a token link, rates 5 items, reloads, and the progress persists; a wrong token gets 403.

Needs: apt-get install -y chromium chromium-driver; pip install selenium.  Missing pieces FAIL the test
with that message (never a silent skip)."""

import shutil
import sqlite3
import urllib.error
import urllib.request

import pytest

from humaneval_testkit import live_server, setup

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
INSTALL = "install it with: apt-get install -y chromium chromium-driver && pip install selenium"


@pytest.fixture
def browser(tmp_path):
    import os

    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.fail(f"headless browser test: chromium/chromedriver not found; {INSTALL}")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail(f"headless browser test: selenium is not installed; {INSTALL}")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chrome-profile'}"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def test_rater_rates_five_items_and_progress_persists(tmp_path, browser):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    task, store, _ = setup(tmp_path / "study", n_items=12, k=2)
    rid, token = store.add_rater("alice")
    with live_server(task, store) as port:
        base = f"http://127.0.0.1:{port}"
        browser.get(f"{base}/r/{token}")
        assert browser.find_element(By.ID, "done").text == "0"
        assert browser.find_element(By.ID, "total").text == "13"
        seen = []
        for n in range(5):
            seen.append(browser.find_element(By.NAME, "item_id").get_attribute("value"))
            browser.find_element(By.ID, f"rate-{1 + n % 4}").click()
            # the old page may go stale between finding and reading the counter: retry until the new one shows
            WebDriverWait(browser, 20, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)).until(
                lambda d, n=n: d.find_element(By.ID, "done").text == str(n + 1))
        browser.refresh()
        assert browser.find_element(By.ID, "done").text == "5"
        assert browser.find_element(By.ID, "total").text == "13"
        assert browser.find_element(By.NAME, "item_id").get_attribute("value") not in seen

        browser.get(f"{base}/r/wrong-token")
        assert "forbidden" in browser.find_element(By.TAG_NAME, "body").text
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{base}/r/wrong-token", timeout=10)
        assert err.value.code == 403
    rows = sqlite3.connect(tmp_path / "study" / "ratings.sqlite").execute(
        "SELECT item_id, value FROM ratings WHERE rater_id=? ORDER BY id", (rid,)).fetchall()
    assert rows == [(item, 1 + n % 4) for n, item in enumerate(seen)]
    assert [i for i in store.assignment(rid, task)][:5] == seen
