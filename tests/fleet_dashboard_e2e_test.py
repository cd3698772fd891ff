"""The fleet dashboard (GET /fleet) end to end: a real enclave-rpd fed through the real report
protocol (devices registered with their device-key proof, signed report batches, logins, a refused
login, re-enrollments re-bound by the proof), read in headless Chromium: the login form, a wrong
token refused and counted, every number on each page equal to the admin API's, charts drawn,
nothing loaded from elsewhere, keyboard focus, a narrow screen, logout ending the session; and on a
throwaway PostgreSQL, a session opened at one node accepted and ended at another."""
import http.client
import os
import re
import shutil
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools", "fleet-sim"))
from fleet_protocol import CAUSE, Client, Device  # noqa: E402
from rpd_harness import Postgres, Rpd, req  # noqa: E402

NO_LIMITS = ["--rate-per-address", "0", "--rate-per-user", "0"]


def seed(port, origin):
    """A small fleet: 24 devices on two OS versions with heartbeats; three keys die on 24.04 (one
    found by doctor), two re-enroll and are re-bound; two logins carry a bad signature."""
    c = Client("127.0.0.1", port)
    now = int(time.time())
    devices = []
    for i in range(24):
        d = Device(f"dash-{i:02d}", os_id="ubuntu", os_version="24.04" if i % 2 else "22.04",
                   app_version="2.4.0" if i % 3 else "2.3.0", token="tpm2" if i % 4 == 0 else "soft")
        st, doc = d.register(c, origin)
        assert st == 200, (st, doc)
        devices.append(d)
    for i, d in enumerate(devices):
        reports = [d.heartbeat(now - 3 * 3600 - i * 60), d.heartbeat(now - 600)]
        if i in (1, 3, 5):
            reports.append(d.failure(now - (2 + i) * 3600, found_by="doctor" if i == 5 else "use"))
        st, doc = d.send(c, reports)
        assert st == 202, (st, doc)
    for i in (1, 3):
        d = devices[i]
        old = d.credential_id
        st, doc = d.register(c, origin, replaces=old, cause=CAUSE)
        assert st == 200 and doc.get("status") == "rebound", (st, doc)
        st, doc = d.send(c, [d.reenroll(now - 3600, d.credential_id, old)])
        assert st == 202, (st, doc)
    for d in devices[6:9]:
        assert d.login(c, origin)[0] == 200
    for d in devices[10:12]:
        assert d.login(c, origin, tamper=True)[0] in (400, 401)
    c.close()


def resolve(docs, path):
    """The value at a data-api path ("summary.by_cause.0.fraction"; "length" of a list)."""
    v = docs
    for part in path.split("."):
        if isinstance(v, list):
            v = len(v) if part == "length" else v[int(part)]
        else:
            v = v[part]
    return v


def raw(v):
    """A JSON value as the page's data-value attribute writes it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if v is None:
        return ""
    return repr(v) if isinstance(v, float) else str(v)


def browser(tmp, size="1280,800"):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", f"--window-size={size}", f"--user-data-dir={tmp}/chromium-profile"):
        o.add_argument(arg)
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
    d.set_page_load_timeout(30)
    return d


DRAWN = ("const c=arguments[0],x=c.getContext('2d');if(!c.width||!c.height)return false;"
         "const d=x.getImageData(0,0,c.width,c.height).data;let n=0;for(let i=4;i<d.length;i+=4)"
         "if(d[i]!==d[0]||d[i+1]!==d[1]||d[i+2]!==d[2]||d[i+3]!==d[3])n++;return n;")


def need_browser(test):
    try:
        import selenium  # noqa: F401
    except ImportError as e:
        test.skipTest(f"selenium: {e}")
    if not (os.path.exists("/usr/bin/chromium") and os.path.exists("/usr/bin/chromedriver")):
        test.skipTest("no chromium / chromedriver")


class FleetDashboard(unittest.TestCase):
    """One server on SQLite and one browser for the class; each test signs in as it needs."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fleet-dash-")
        cls.srv = Rpd(cls.tmp, "sqlite:" + os.path.join(cls.tmp, "rp.db"), extra=NO_LIMITS + ["--quiet"])
        if not cls.srv.start():
            raise RuntimeError("enclave-rpd did not start: " + cls.srv.logtext()[-2000:])
        cls.base = f"http://localhost:{cls.srv.port}"
        seed(cls.srv.port, cls.srv.origins[0])
        cls.d = None

    @classmethod
    def tearDownClass(cls):
        if cls.d:
            cls.d.quit()
        cls.srv.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        need_browser(self)
        if FleetDashboard.d is None:
            FleetDashboard.d = browser(self.tmp)
        self.d.delete_all_cookies()

    def api(self, path):
        r = req(self.srv.port, "GET", path, headers=self.srv.admin())
        self.assertEqual(r.status, 200, r)
        return r.doc

    def login(self, token=None):
        from selenium.webdriver.common.by import By
        self.d.get(self.base + "/fleet")
        field = self.d.find_element(By.CSS_SELECTOR, "input[type=password]")
        label = self.d.find_element(By.CSS_SELECTOR, f"label[for='{field.get_attribute('id')}']")
        self.assertEqual(label.text, "Admin token")
        field.send_keys(self.srv.token if token is None else token)
        self.follow(self.d.find_element(By.CSS_SELECTOR, "form.login button[type=submit]"))

    def follow(self, element):
        """Clicks a link or submit button and waits for the page it loads."""
        from selenium.common.exceptions import WebDriverException
        # The old page stays "complete" until the navigation replaces it, and an element found in
        # between goes stale (a 1-in-20 failure): mark the old document's window, wait for a
        # document without the mark, then for it to load. Chromedriver answers a script sent
        # mid-navigation with an error of its own: that is "not yet".
        self.d.execute_script("window.__enclaveOldPage = true")
        element.click()

        def loaded():
            try:
                return self.d.execute_script(
                    "return window.__enclaveOldPage === undefined && document.readyState === 'complete'")
            except WebDriverException:
                return False
        self.assertTrue(self.wait(loaded), "the page the click leads to did not load")

    def wait(self, cond, seconds=10):
        end = time.time() + seconds
        while time.time() < end:
            if cond():
                return True
            time.sleep(0.1)
        return False

    def numbers(self):
        return self.d.execute_script(
            "return [...document.querySelectorAll('[data-api]')].map(e => [e.dataset.api, e.dataset.value, "
            "e.textContent.trim()])")

    def assert_numbers_equal_api(self, docs):
        shown = self.numbers()
        self.assertGreater(len(shown), 10)
        for path, value, text in shown:
            want = resolve(docs, path)
            self.assertEqual(value, raw(want), path)
            if isinstance(want, bool) or not isinstance(want, (int, float)):
                continue
            if path.endswith(("fraction",)):
                m = re.fullmatch(r"([0-9.]+) %", text)
                self.assertTrue(m, (path, text))
                self.assertAlmostEqual(float(m.group(1)), want * 100, delta=max(abs(want * 100) * 0.006, 1e-9),
                                       msg=path)
            elif "time_to_rebind" in path and not path.endswith("count"):
                self.assertRegex(text, r"^\d+ (s|min|h|d)", path)
            else:
                self.assertEqual(int(text.replace(",", "")), want, path)
        return shown

    def assert_charts_drawn(self, minimum):
        from selenium.webdriver.common.by import By
        canvases = self.d.find_elements(By.TAG_NAME, "canvas")
        self.assertGreaterEqual(len(canvases), minimum)
        for c in canvases:
            self.assertGreater(self.d.execute_script(DRAWN, c), 500, c.get_attribute("id"))

    def assert_all_local(self):
        urls = self.d.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
            ".concat([...document.scripts].map(s => s.src).filter(s => s))"
            ".concat([...document.querySelectorAll('link[href],img[src]')].map(l => l.href || l.src))")
        self.assertTrue(urls)
        self.assertEqual([u for u in urls if not u.startswith(self.base + "/")], [])

    def test_without_a_session_the_login_form_and_a_wrong_token_is_refused_and_counted(self):
        from selenium.webdriver.common.by import By

        def refused():
            m = re.search(r'enclave_rpd_requests_total\{route="/fleet/login",status="401"\} (\d+)',
                          req(self.srv.port, "GET", "/metrics").body.decode())
            return int(m.group(1)) if m else 0
        before = refused()
        self.login("wrong-" + self.srv.token)
        self.assertEqual(self.d.find_elements(By.TAG_NAME, "canvas"), [])
        self.assertEqual(self.d.find_element(By.ID, "login-message").text, "That is not this server's admin token.")
        self.assertTrue(self.d.find_elements(By.CSS_SELECTOR, "input[type=password]"))
        self.assertEqual(self.d.get_cookies(), [])
        self.assertEqual(refused(), before + 1)
        # The same over plain HTTP: 401, no cookie, and the token never echoed.
        r = req(self.srv.port, "POST", "/fleet/login", b"token=nope-" + self.srv.token.encode(),
                headers={"Origin": self.base}, ctype="application/x-www-form-urlencoded")
        self.assertEqual((r.status, r.headers.get("set-cookie")), (401, None))
        self.assertNotIn(self.srv.token.encode(), r.body)
        self.assertNotIn(self.srv.token, self.srv.logtext())

    def test_overview_equals_the_api_draws_its_charts_and_loads_nothing_from_elsewhere(self):
        from selenium.webdriver.common.by import By
        self.login()
        self.assertEqual(self.d.current_url, self.base + "/fleet")
        self.wait(lambda: self.d.execute_script(DRAWN, self.d.find_element(By.ID, "series-chart")))
        self.assert_charts_drawn(2)
        since = self.d.find_element(By.ID, "since").get_attribute("data-value")
        until = self.d.find_element(By.ID, "until").get_attribute("data-value")
        q = urllib.parse.urlencode({"since": since, "until": until})
        summary, issues = self.api("/v1/fleet/summary?" + q), self.api("/v1/fleet/issues")
        shown = self.assert_numbers_equal_api({"summary": summary, "issues": issues})
        paths = {p for p, _, _ in shown}
        for p in ("summary.active_devices", "summary.affected_fraction", "summary.by_cause.0.found_by_doctor",
                  "issues.issues.0.time_to_rebind_seconds.median", "summary.by_version.0.fraction"):
            self.assertIn(p, paths)
        self.assertIn(CAUSE, self.d.page_source)
        self.assertEqual(summary["active_devices"], 24)
        causes = {(c["cause"], c["source"]) for c in summary["by_cause"]}
        self.assertIn((CAUSE, "device"), causes)
        self.assertIn(("signature-invalid", "server"), causes)
        self.assert_all_local()
        shot = os.path.join(self.tmp, "overview.png")
        self.d.save_screenshot(shot)
        self.assertGreater(os.path.getsize(shot), 20000)
        cookie = next(c for c in self.d.get_cookies() if c["name"] == "enclave_fleet_session")
        self.assertEqual((cookie["httpOnly"], cookie["sameSite"], cookie["path"], cookie["secure"]),
                         (True, "Strict", "/fleet", False))

    def test_issue_page_equals_the_api(self):
        from selenium.webdriver.common.by import By
        self.login()
        link = next(a for a in self.d.find_elements(By.CSS_SELECTOR, "#issue-table a") if a.text == CAUSE)
        self.follow(link)
        self.assertIn("/fleet/issues/", self.d.current_url)
        issue_id = urllib.parse.unquote(self.d.current_url.rsplit("/", 1)[1])
        self.wait(lambda: self.d.execute_script(DRAWN, self.d.find_element(By.ID, "issue-chart")))
        self.assert_charts_drawn(1)
        issue = self.api("/v1/fleet/issues/" + urllib.parse.quote(issue_id, safe=""))
        self.assert_numbers_equal_api({"issue": issue})
        self.assertEqual((issue["cause"], issue["devices_affected"], issue["devices_rebound"]), (CAUSE, 3, 2))
        self.assertEqual(issue["time_to_rebind_seconds"]["count"], 2)
        for cid in issue["credential_ids"]:
            self.assertIn(cid, self.d.page_source)
        self.assert_all_local()

    def test_keyboard_reaches_every_link_and_button_with_a_visible_focus(self):
        from selenium.webdriver.common.keys import Keys
        self.login()
        body = self.d.find_element("tag name", "body")
        body.send_keys(Keys.TAB)
        seen = []
        for _ in range(60):
            el = self.d.switch_to.active_element
            info = self.d.execute_script(
                "const e=arguments[0],s=getComputedStyle(e);return [e.tagName,e.textContent.trim(),s.outlineStyle,"
                "s.outlineWidth]", el)
            seen.append(info)
            el.send_keys(Keys.TAB)
        tags_texts = {(t, x) for t, x, _, _ in seen}
        self.assertIn(("A", "Skip to the content"), tags_texts)
        self.assertIn(("BUTTON", "Log out"), tags_texts)
        self.assertIn(("A", CAUSE), tags_texts)
        self.assertIn(("A", "Last 30 days"), tags_texts)
        for tag, text, style, width in seen:
            if tag in ("A", "BUTTON"):
                self.assertNotEqual(style, "none", (tag, text))
                self.assertNotEqual(width, "0px", (tag, text))

    def test_a_narrow_screen_scrolls_tables_not_the_page(self):
        self.login()
        try:
            self.d.set_window_size(390, 844)
            self.d.refresh()
            widths = self.d.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth, "
                "Math.max(...[...document.querySelectorAll('.scroll')].map(e => e.scrollWidth - e.clientWidth))]")
            self.assertLessEqual(widths[0], widths[1], widths)
            self.assertGreater(widths[2], 0, "the wide tables scroll inside their own box")
            self.assert_charts_drawn(2)
            shot = os.path.join(self.tmp, "narrow.png")
            self.d.save_screenshot(shot)
            self.assertGreater(os.path.getsize(shot), 10000)
        finally:
            self.d.set_window_size(1280, 800)

    def test_logout_ends_the_session_even_for_a_copied_cookie(self):
        from selenium.webdriver.common.by import By
        self.login()
        value = next(c["value"] for c in self.d.get_cookies() if c["name"] == "enclave_fleet_session")
        cookie = {"Cookie": "enclave_fleet_session=" + value}
        self.assertEqual(req(self.srv.port, "GET", "/fleet", headers=cookie, ctype=None).status, 200)
        self.follow(self.d.find_element(By.CSS_SELECTOR, "form.logout button"))
        self.assertTrue(self.d.find_elements(By.CSS_SELECTOR, "input[type=password]"))
        self.assertEqual(self.d.find_elements(By.TAG_NAME, "canvas"), [])
        r = req(self.srv.port, "GET", "/fleet", headers=cookie, ctype=None)
        self.assertEqual(r.status, 401)
        self.assertIn(b"session has ended", r.body)
        self.assertNotIn(b"data-api", r.body)

    def test_forms_from_another_origin_and_the_headers_of_a_page(self):
        form = "application/x-www-form-urlencoded"
        body = ("token=" + urllib.parse.quote(self.srv.token)).encode()
        for origin in ("https://evil.example", None):
            h = {"Origin": origin} if origin else {}
            r = req(self.srv.port, "POST", "/fleet/login", body, headers=h, ctype=form)
            self.assertEqual((r.status, r.headers.get("set-cookie")), (403, None), origin)
        r = req(self.srv.port, "POST", "/fleet/login", body, headers={"Origin": self.base}, ctype=form)
        self.assertEqual(r.status, 303)
        self.assertRegex(r.headers["set-cookie"], r"^enclave_fleet_session=[0-9a-f]{64}; Path=/fleet; HttpOnly; "
                                                  r"SameSite=Strict; Max-Age=\d+$")
        page = req(self.srv.port, "GET", "/fleet", headers={"Cookie": r.headers["set-cookie"].split(";")[0]}, ctype=None)
        csp = page.headers["content-security-policy"]
        self.assertIn("script-src 'self'", csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertEqual(page.headers["cache-control"], "no-store")
        self.assertNotIn(b"<script>", page.body)
        js = req(self.srv.port, "GET", "/fleet/static/chart.js", ctype=None)
        self.assertEqual(js.status, 200)
        self.assertIn(b"Chart.js v3", js.body[:200])


class FleetDashboardPostgres(unittest.TestCase):
    """Two nodes on one PostgreSQL: a session opened at one is accepted at the other, and a logout at
    the other ends it at both."""

    def test_sessions_are_shared_by_nodes_on_one_database(self):
        try:
            pg = Postgres()
        except FileNotFoundError:
            self.skipTest("no PostgreSQL")
        self.addCleanup(pg.close)
        pg.start()
        pg.createdb()
        tmp = tempfile.mkdtemp(prefix="fleet-dash-pg-")
        self.addCleanup(shutil.rmtree, tmp, True)
        a = Rpd(tmp, pg.url, name="a", extra=NO_LIMITS + ["--quiet"])
        b = Rpd(tmp, pg.url, name="b", extra=NO_LIMITS + ["--quiet"], token=a.token)
        for s in (a, b):
            self.assertTrue(s.start(), s.logtext()[-2000:])
            self.addCleanup(s.stop)
        seed(a.port, a.origins[0])
        form = "application/x-www-form-urlencoded"
        body = ("token=" + urllib.parse.quote(a.token)).encode()
        r = req(a.port, "POST", "/fleet/login", body, headers={"Origin": a.origins[0]}, ctype=form)
        self.assertEqual(r.status, 303, r)
        cookie = {"Cookie": r.headers["set-cookie"].split(";")[0]}
        page = req(b.port, "GET", "/fleet", headers=cookie, ctype=None)
        self.assertEqual(page.status, 200)
        self.assertIn(CAUSE.encode(), page.body)
        summary = req(b.port, "GET", "/v1/fleet/summary", headers=b.admin()).doc
        m = re.search(rb'data-api="summary.active_devices" data-value="(\d+)"', page.body)
        self.assertEqual(int(m.group(1)), summary["active_devices"])
        self.assertEqual(req(b.port, "POST", "/fleet/logout", b"", headers={**cookie, "Origin": b.origins[0]},
                             ctype=form).status, 303)
        for s in (a, b):
            self.assertEqual(req(s.port, "GET", "/fleet", headers=cookie, ctype=None).status, 401)


if __name__ == "__main__":
    unittest.main()
