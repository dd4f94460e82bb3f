"""The dashboard (`/ui/`) end to end: Debian's headless chromium, driven through its chromedriver by
Selenium, against real regions: `na` (binance, kraken) and `eu` (okx), simulated venues on a frozen
market, their edges and two CCs in the peer mesh; the page is `na`'s. Prices move only when the
test's orders take liquidity, so every change the page shows is one the test caused."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select

from seqmesh.client.api import CCClient
from seqmesh.testing.frozen import FROZEN_SIM, client_arg
from seqmesh.testing.guests import pinger
from seqmesh.testing.mesh import TEST_VENUES, Mesh, Region
from seqmesh.testing.processes import wait_until

KEY = "dashboard-test-key"
RUN = uuid.uuid4().hex[:8]
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")

# skipped on a machine without them, never in CI (CI=true), where hack/test.sh has installed them
pytestmark = pytest.mark.skipif((CHROMIUM is None or CHROMEDRIVER is None) and not os.environ.get("CI"),
                                reason="Debian's chromium and chromium-driver (hack/test.sh installs them)")


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    """`na`, peered with `eu`: both up, and `na` seeing all three venues live."""
    venues = {"na": {v: TEST_VENUES[v] for v in ("binance", "kraken")}, "eu": {"okx": TEST_VENUES["okx"]}}
    mesh = Mesh(tmp_path_factory.mktemp("dashboard"), venues, sim_args=FROZEN_SIM,
                cc_args=("--stale-after", "3600", "--client", client_arg("dev", KEY)))
    try:
        na = mesh.regions["na"]
        with CCClient(na.api, KEY) as c:
            wait_until(lambda: [(p["region"], p["connected"], p["rtt_ms"] is not None) for p in c.request(
                "GET", "/v1/peers")] == [("eu", True, True)] and len(c.bbo("BTC/USDT")) == 3
                and not any(b["stale"] for b in c.bbo("BTC/USDT")), 60, what="na peered with eu, three live venues")
        yield na
    finally:
        mesh.stop()


@pytest.fixture
def api(region: Region) -> Iterator[CCClient]:
    with CCClient(region.api, KEY) as c:
        yield c


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    assert CHROMIUM is not None and CHROMEDRIVER is not None
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1400,1800"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER, log_output=str(tmp_path / "driver.log")))
    try:
        yield driver
    finally:
        driver.quit()


def _text(driver: WebDriver, css: str) -> str:
    """The text of the first element matching `css` ("" when there is none, or it was just replaced)."""
    try:
        found = driver.find_elements(By.CSS_SELECTOR, css)
        return found[0].text if found else ""
    except StaleElementReferenceException:
        return ""


def _wait(driver: WebDriver, done: Callable[[], bool], what: str, seen: Callable[[], str]) -> None:
    """Until `done()`; on timeout, says what the page showed then (`seen()`) and the stream's state."""
    try:
        wait_until(done, 30, interval=0.2, what=what)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}: {seen()}; stream {_text(driver, '#stream-state')!r} "
                             f"note {_text(driver, '#stream-note')!r}") from None


def _wait_text(driver: WebDriver, css: str, want: Any, what: str) -> None:
    """Until the text at `css` satisfies `want` (a string to equal, or a predicate)."""
    ok = want if callable(want) else (lambda t: t == want)
    _wait(driver, lambda: ok(_text(driver, css)), what, lambda: f"{css} shows {_text(driver, css)!r}")


def _asks(driver: WebDriver, symbol: str) -> dict[str, str]:
    rows = driver.find_elements(By.CSS_SELECTOR, f'table[data-symbol="{symbol}"] tr[data-venue]')
    return {r.get_attribute("data-venue") or "": r.find_element(By.CSS_SELECTOR, ".ask").text for r in rows}


def _wait_board(driver: WebDriver, api: CCClient, symbol: str = "BTC/USDT") -> None:
    """Until the board shows the API's asks per venue and its NBBO ask."""
    def same() -> bool:
        nbbo = api.nbbo(symbol)["ask"]["price"]
        return (_asks(driver, symbol) == {b["venue"]: b["ask"] for b in api.bbo(symbol)}
                and _text(driver, f'table[data-symbol="{symbol}"] tr.nbbo-row .ask') == nbbo)

    _wait(driver, same, "the board showing the API's tops", lambda: f"board asks {_asks(driver, symbol)}, API's "
          f"{ {b['venue']: b['ask'] for b in api.bbo(symbol)} }, NBBO ask {api.nbbo(symbol)['ask']['price']}")


def _order_row(driver: WebDriver, order_id: str) -> str:
    return f'#orders-table tr[data-order="{order_id}"]'


def _wait_filled(driver: WebDriver, api: CCClient, order_id: str) -> dict[str, Any]:
    """The order's row says filled with as many fills as the ledger has; the fills table lists each."""
    order = api.order(order_id)
    assert order["state"] == "filled", order  # a market order on live books answers filled (docs/api.md)
    row = _order_row(driver, order_id)
    _wait_text(driver, f"{row} .state", "filled", f"order {order_id} filled on the page")
    _wait_text(driver, f"{row} .filled", order["filled"], f"order {order_id}'s filled quantity")
    _wait_text(driver, f"{row} .fill-count", str(len(order["fills"])), f"order {order_id}'s fills counted")
    shown = {e.get_attribute("data-fill")
             for e in driver.find_elements(By.CSS_SELECTOR, f'#fills-table tr[data-order="{order_id}"]')}
    assert shown == {f["fill_id"] for f in order["fills"]}
    return dict(order)


def test_static_files_need_no_key_and_stay_out_of_the_spec(region: Region) -> None:
    with httpx.Client(base_url=region.api) as http:
        page = http.get("/ui/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert http.get("/ui").status_code == 308 and http.get("/ui").headers["location"] == "ui/"
        assert http.get("/ui/dashboard.js").headers["content-type"].startswith("text/javascript")
        for other in ("nope.js", "routes.py", "..%2Froutes.py"):  # only the page's own files, by name
            unknown = http.get(f"/ui/{other}")
            assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "NOT_FOUND", other
        assert http.get("/v1/orders").status_code == 401  # the API itself still needs the key
        assert not [p for p in http.get("/openapi.json").json()["paths"] if p.startswith("/ui")]


def test_live_board_orders_fills_algos_and_resume(region: Region, api: CCClient, browser: WebDriver) -> None:
    browser.get(f"{region.api}/ui/")
    # a wrong key is refused on the page; the right one opens it
    browser.find_element(By.ID, "key").send_keys("not-a-key")
    browser.find_element(By.ID, "open").click()
    _wait_text(browser, "#login-error", lambda t: "not an active client" in t, "the wrong key refused")
    key = browser.find_element(By.ID, "key")
    key.clear()
    key.send_keys(KEY)
    browser.find_element(By.ID, "open").click()
    _wait_text(browser, "#stream-state", "live", "the stream live")
    _wait_text(browser, "#client", "client dev", "the stream's welcome")

    # the board: every venue's top and the NBBO, as the API has them (compared afresh each time: the
    # frozen market's makers still requote once a minute)
    _wait_board(browser, api)
    assert browser.find_elements(By.CSS_SELECTOR, "#depth-legend span"), "no venue in the depth chart's legend"
    # the peer mesh: eu connected with its round trip, its venue on the board under its region, remote
    _wait_text(browser, '#peers-table tr[data-peer="eu"] td:nth-child(3)', "connected", "eu in the peers table")
    rtt = _text(browser, '#peers-table tr[data-peer="eu"] td:nth-child(4)')
    assert float(rtt) > 0, rtt
    assert _text(browser, '#peers-table tr[data-peer="eu"] td:nth-child(5)') == "okx"
    okx = browser.find_element(By.CSS_SELECTOR, 'table[data-symbol="BTC/USDT"] tr[data-venue="okx"]')
    assert okx.get_attribute("data-region") == "eu" and "remote" in okx.text
    regions = [e.text for e in browser.find_elements(By.CSS_SELECTOR, 'table[data-symbol="BTC/USDT"] tr.region-row')]
    assert regions == ["eu (remote)", "na"], regions
    for venue, where in (("binance", "local"), ("kraken", "local"), ("okx", "remote")):
        _wait_text(browser, f'#edges-table tr[data-edge="{venue}"] td:nth-child(4)', "connected", f"{venue}'s link")
        assert _text(browser, f'#edges-table tr[data-edge="{venue}"] td:nth-child(3)') == where
    before_asks = _asks(browser, "BTC/USDT")
    updates = browser.execute_script("return window.dashboard.priceUpdates")

    # an order through the API: its row with its fills, and the prices it moved, arrive live
    top = Decimal(api.nbbo("BTC/USDT")["ask"]["qty"])
    order = api.submit("BTC/USDT", "buy", str(top + Decimal("0.01")), client_order_id=f"dash-{RUN}")
    order = _wait_filled(browser, api, order["order_id"])
    took = {f["venue"] for f in order["fills"]}
    _wait(browser, lambda: all(_asks(browser, "BTC/USDT")[v] != before_asks[v] for v in took),
          f"new asks at {took} on the board", lambda: f"was {before_asks}, shows {_asks(browser, 'BTC/USDT')}")
    assert browser.execute_script("return window.dashboard.priceUpdates") > updates
    _wait_board(browser, api)

    # its detail: children, fills and the TCA chart
    browser.find_element(By.CSS_SELECTOR, _order_row(browser, order["order_id"])).click()
    children = "#children-table tbody tr"
    _wait(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, children)) == len(order["children"]),
          "the order's children shown", lambda: f"{_text(browser, '#order-detail')!r}")
    shown_fills = {e.get_attribute("data-fill") for e in browser.find_elements(By.CSS_SELECTOR,
                                                                               "#order-fills-table tbody tr")}
    assert shown_fills == {f["fill_id"] for f in order["fills"]}
    _wait(browser, lambda: browser.execute_script(
        "const i = document.getElementById('tca-chart'); return !!i && i.complete && i.naturalWidth > 0"),
        "the TCA chart drawn", lambda: f"{_text(browser, '#order-detail')!r}")

    # paused, the page misses an order; resumed, it gets it from the stream's replay (after its event_seq)
    browser.find_element(By.ID, "pause").click()
    _wait_text(browser, "#stream-state", "paused", "the stream paused")
    missed = api.submit("BTC/USDT", "sell", "0.02", client_order_id=f"dash-missed-{RUN}")
    assert not browser.find_elements(By.CSS_SELECTOR, _order_row(browser, missed["order_id"]))
    browser.find_element(By.ID, "pause").click()
    _wait_text(browser, "#stream-note", lambda t: t.startswith("resumed:") and "orders" in t, "the resume")
    assert browser.execute_script("return window.dashboard.replayed.orders") >= 1  # the missed order's events
    _wait_filled(browser, api, missed["order_id"])
    assert _text(browser, "#stream-gaps") == "0"

    # an algo: its per-edge counters come live, its logs on a click
    api.deploy_algo(f"dash{RUN}", pinger(), "BTC/USDT", ["binance"], {"mode": "dash"}, start=True)
    algo_row = f'#algos-table tr[data-algo="dash{RUN}"][data-edge="binance"]'
    _wait_text(browser, f"{algo_row} td:nth-child(4)", "Running", "the algo running on binance")
    _wait_text(browser, f"{algo_row} td:nth-child(5)", lambda t: t.isdigit() and int(t) > 0, "the algo's calls")
    browser.find_element(By.CSS_SELECTOR, algo_row).click()
    _wait_text(browser, "#algo-logs pre", lambda t: "mode=dash" in t, "the algo's logs")

    # the depth chart follows the symbol chosen: its book comes over the stream
    books = browser.execute_script("return window.dashboard.bookUpdates")
    Select(browser.find_element(By.ID, "depth-symbol")).select_by_value("ETH/USDT")
    _wait(browser, lambda: browser.execute_script("return window.dashboard.bookUpdates") > books
          and browser.execute_script("return window.dashboard.book.symbol") == "ETH/USDT",
          "ETH/USDT's book streamed", lambda: f"{browser.execute_script('return window.dashboard.book.symbol')}")

    # a connection that drops is reopened by itself, and what happened meanwhile is not lost
    connects = browser.execute_script("return window.dashboard.connects")
    browser.execute_script("window.dashboard.ws.close()")
    after_drop = api.submit("BTC/USDT", "buy", "0.01", client_order_id=f"dash-drop-{RUN}")
    _wait(browser, lambda: browser.execute_script("return window.dashboard.connects") > connects,
          "the stream reopened", lambda: f"{browser.execute_script('return window.dashboard.connects')} connects")
    _wait_filled(browser, api, after_drop["order_id"])

    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"
              and "/v1/pairs - Failed to load resource" not in e["message"]]  # the wrong key's refusal, above
    assert errors == [], errors
