"""enclave-rpd end to end: the real server on SQLite (and PostgreSQL, started here), driven with
http.client, raw sockets and curl, with software WebAuthn credentials (rpd_harness.SoftAuthenticator).
Every status and limit of docs/rp.md, admin refusals, timeouts, a thousand idle connections, SIGKILL
under load, PostgreSQL stopped under load, two instances behind haproxy, and headless Chromium on /demo."""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from rpd_harness import (RPD, EnclaveDevice, Haproxy, Postgres, Rpd, SoftAuthenticator, b64d, b64u, free_port,
                         options_of, req)

HAVE_RPD = os.access(RPD, os.X_OK)


class RpdTest(unittest.TestCase):
    # rate limits have tests of their own (RpdLimits); the load here would trip them
    extra = ("--rate-per-address", "0", "--rate-per-user", "0")

    @classmethod
    def database(cls):
        return f"sqlite:{cls.tmp}/rp.sqlite"

    @classmethod
    def setUpClass(cls):
        if not HAVE_RPD:
            raise unittest.SkipTest(f"no {RPD}")
        cls.tmp = tempfile.mkdtemp(prefix="rpd-e2e-")
        cls.db = cls.database()
        cls.srv = Rpd(cls.tmp, cls.db, extra=cls.extra)
        assert cls.srv.start(), cls.srv.logtext()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def user(self, prefix="u"):
        return f"{prefix}-{os.urandom(4).hex()}"


class RpdFlow(RpdTest):
    def test_register_login_and_the_admin_listing(self):
        dev, user = SoftAuthenticator(), self.user()
        r, cred = self.srv.register(dev, user)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.doc["status"], "registered")
        self.assertEqual(r.doc["credential_id"], cred["rawId"])
        r = self.srv.login(dev, user)
        self.assertEqual((r.status, r.doc.get("status")), (200, "ok"), r)
        r, lst = self.srv.credentials(user)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([(c["id"], c["state"]) for c in lst], [(cred["rawId"], "active")])

    def test_a_reused_assertion_and_a_bad_signature_are_refused(self):
        dev, user = SoftAuthenticator(), self.user()
        self.srv.register(dev, user)
        a, _ = self.srv.assertion(dev, user)
        self.assertEqual(req(self.srv.port, "POST", "/v1/authentication", {"credential": a}).status, 200)
        r = req(self.srv.port, "POST", "/v1/authentication", {"credential": a})
        self.assertIn(r.reason(), ("challenge-reused", "challenge-unknown"), r)
        self.assertTrue(400 <= r.status < 500, r)
        a, _ = self.srv.assertion(dev, user)
        s = bytearray(b64d(a["response"]["signature"]))
        s[-1] ^= 1
        a["response"]["signature"] = b64u(bytes(s))
        r = req(self.srv.port, "POST", "/v1/authentication", {"credential": a})
        self.assertEqual(r.reason(), "signature-invalid", r)
        # the signature itself is never written to the log
        self.assertNotIn(a["response"]["signature"], self.srv.logtext())

    def test_admin_endpoints_refuse_without_the_token(self):
        dev, user = SoftAuthenticator(), self.user()
        _, cred = self.srv.register(dev, user)
        for headers in ({}, self.srv.admin("wrong"), {"Authorization": self.srv.token},
                        {"X-Admin-Token": self.srv.token}):
            r = req(self.srv.port, "GET", f"/v1/users/:user/credentials", headers=headers)
            self.assertEqual((r.status, r.reason()), (401, "unauthorized"), (headers, r))
            r = req(self.srv.port, "DELETE", f"/v1/credentials/{cred['rawId']}", headers=headers)
            self.assertEqual(r.status, 401, r)
            r = req(self.srv.port, "POST", f"/v1/credentials/{cred['rawId']}/approve", headers=headers)
            self.assertEqual(r.status, 401, r)
        self.assertNotIn(self.srv.token, self.srv.logtext())
        r = req(self.srv.port, "DELETE", f"/v1/credentials/{cred['rawId']}", headers=self.srv.admin())
        self.assertEqual(r.status, 200, r)
        r, lst = self.srv.credentials(user)
        self.assertFalse([c for c in lst if c.get("state") == "active"], lst)

    def test_statuses_of_the_http_layer(self):
        port = self.srv.port
        cases = [
            (req(port, "GET", "/nope"), 404, "not-found"),
            (req(port, "GET", "/v1/registration"), 405, "method-not-allowed"),
            (req(port, "DELETE", "/healthz"), 405, "method-not-allowed"),
            (req(port, "POST", "/v1/registration", b"{}", ctype="text/plain"), 415, "unsupported-media-type"),
            (req(port, "POST", "/v1/registration", b"{}", ctype=None), 415, "unsupported-media-type"),
            (req(port, "POST", "/v1/authentication", b'{"credential": {"id": '), 400, "malformed"),
            (req(port, "POST", "/v1/registration", b"[[[[[["), 400, "malformed"),
            (req(port, "POST", "/v1/registration", b"[1]"), 400, "malformed"),
            (req(port, "POST", "/v1/registration", b'{"a":' + b"[" * 40 + b"]" * 40 + b"}"), 400, "malformed"),
            (req(port, "GET", "/healthz", headers={"X-Pad": "a" * 9000}), 431, "headers-too-large"),
        ]
        for r, status, reason in cases:
            self.assertEqual((r.status, r.reason()), (status, reason), r)
            self.assertIsInstance(r.doc["error"]["message"], str)
        self.assertEqual(req(port, "GET", "/v1/registration").headers.get("allow"), "POST")

    def test_oversized_bodies_get_413_and_the_server_goes_on(self):
        for size in (65 * 1024, 2 * 1024 * 1024):
            s = socket.create_connection(("127.0.0.1", self.srv.port), timeout=10)
            s.sendall(f"POST /v1/authentication HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {size}\r\n\r\n".encode())
            try:
                s.sendall(b"A" * min(size, 256 * 1024))
            except OSError:
                pass
            data = b""
            while b"\r\n\r\n" not in data:
                d = s.recv(65536)
                if not d:
                    break
                data += d
            s.close()
            self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:200])
        # a chunked body over the limit too, through curl
        p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: application/json",
                            "-H", "Transfer-Encoding: chunked", "--data-binary", "@-",
                            f"http://127.0.0.1:{self.srv.port}/v1/registration"],
                           input=b'{"a":"' + b"x" * 70000 + b'"}', capture_output=True, timeout=30)
        self.assertEqual(p.stdout, b"413")
        self.assertEqual(req(self.srv.port, "GET", "/healthz").status, 200)

    def test_curl_keep_alive_metrics_and_demo(self):
        url = f"http://127.0.0.1:{self.srv.port}"
        p = subprocess.run(["curl", "-sv", f"{url}/healthz", f"{url}/healthz"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.stdout, '{"status":"ok"}{"status":"ok"}')
        self.assertIn("Re-using existing connection", p.stderr)
        r = req(self.srv.port, "GET", "/metrics")
        self.assertEqual(r.headers["content-type"].split(";")[0], "text/plain")
        sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})?\s+[-+]?([0-9.eE+-]+|NaN|[+-]?Inf)$')
        lines = [l for l in r.body.decode().splitlines() if l and not l.startswith("#")]
        self.assertTrue(lines and all(sample.match(l) for l in lines), [l for l in lines if not sample.match(l)])
        self.assertIn('enclave_rpd_requests_total{route="/healthz",status="200"}', r.body.decode())
        r = req(self.srv.port, "GET", "/demo")
        self.assertEqual(r.status, 200)
        self.assertIn(b"navigator.credentials.create", r.body)
        self.assertIn(b"navigator.credentials.get", r.body)

    def test_one_log_line_per_request_with_its_route_template(self):
        user = self.user("logged")
        req(self.srv.port, "GET", f"/v1/users/:user/credentials", headers=self.srv.admin())
        time.sleep(0.2)
        lines = [json.loads(l) for l in self.srv.logtext().splitlines() if l.startswith("{")]
        mine = [l for l in lines if l.get("route") == "/v1/users/:user/credentials"]
        self.assertTrue(mine, lines[-5:])
        self.assertEqual(set(mine[-1]) >= {"method", "route", "status", "ms"}, True, mine[-1])
        self.assertNotIn(user, self.srv.logtext())

    def test_each_failed_check_has_its_reason(self):
        port = self.srv.port
        dev, user = SoftAuthenticator(), self.user()
        r, cred = self.srv.register(dev, user)
        self.assertEqual(r.status, 200, r)

        def answer(origin=None, **kw):
            o = req(port, "POST", "/v1/authentication/options", {"user": user})
            self.assertEqual(o.status, 200, o)
            opts = options_of(o.doc)
            self.assertEqual(opts["rpId"], "localhost")
            self.assertEqual([c["id"] for c in opts["allowCredentials"]], [cred["rawId"]])
            return dev.get(opts, origin or self.srv.origins[0], **kw)

        def refused(a, reason, status=400):
            r = req(port, "POST", "/v1/authentication", {"credential": a})
            self.assertEqual((r.status, r.reason()), (status, reason), r)
            self.assertIsInstance(r.doc["error"]["message"], str)

        refused(answer(origin="http://localhost:1"), "origin-mismatch")
        refused(answer(flags=0x01), "user-verification-required")
        refused(answer(flags=0x04), "user-presence-required")
        refused(answer(flags=0x15), "malformed")            # BS without BE
        refused(answer(flags=0x0d), "backup-eligibility-changed")
        a = answer()
        a["response"]["clientDataJSON"] = b64u(b64d(a["response"]["clientDataJSON"]).replace(b"webauthn.get", b"webauthn.xyz"))
        refused(a, "type-mismatch")
        a = answer()
        ad = bytearray(b64d(a["response"]["authenticatorData"]))
        ad[0] ^= 1
        a["response"]["authenticatorData"] = b64u(bytes(ad))
        refused(a, "rp-id-mismatch")
        a = answer()
        a["id"] = a["rawId"] = b64u(os.urandom(32))
        refused(a, "credential-unknown", 404)
        a = answer()
        a["response"]["userHandle"] = b64u(b"someone else")
        refused(a, "credential-not-owned")
        refused(dict(answer(), rawId="not base64url!", id="not base64url!"), "malformed")
        # a challenge made up by the client
        o = options_of(req(port, "POST", "/v1/authentication/options", {"user": user}).doc)
        refused(dev.get(dict(o, challenge=b64u(os.urandom(32))), self.srv.origins[0]), "challenge-unknown")
        # a registration challenge answered as an assertion
        o = options_of(req(port, "POST", "/v1/registration/options", {"user": user}).doc)
        refused(dev.get(dict(o, rpId="localhost", allowCredentials=[{"type": "public-key", "id": cred["rawId"]}]),
                        self.srv.origins[0]), "challenge-unknown")
        # the counter: 5, then 5 again (a clone), then 0 after non-zero
        self.assertEqual(req(port, "POST", "/v1/authentication", {"credential": answer(counter=5)}).status, 200)
        refused(answer(counter=5), "counter-regressed")
        refused(answer(counter=0), "counter-regressed")
        self.assertEqual(req(port, "POST", "/v1/authentication", {"credential": answer(counter=6)}).status, 200)
        # registrations: origin, UV, an unsupported attestation format
        o = options_of(req(port, "POST", "/v1/registration/options", {"user": self.user()}).doc)
        r = req(port, "POST", "/v1/registration", {"credential": dev.create(o, "http://localhost:1")})
        self.assertEqual((r.status, r.reason()), (400, "origin-mismatch"), r)
        o = options_of(req(port, "POST", "/v1/registration/options", {"user": self.user()}).doc)
        r = req(port, "POST", "/v1/registration", {"credential": dev.create(o, self.srv.origins[0], flags=0x41)})
        self.assertEqual((r.status, r.reason()), (400, "user-verification-required"), r)
        r = req(port, "POST", "/v1/registration/options", {"user": "x" * 129})
        self.assertEqual((r.status, r.reason()), (400, "user-invalid"), r)

    def test_rebinding_after_a_dead_key_and_step_up_for_another_device(self):
        port, user = self.srv.port, self.user("rebind")
        home = EnclaveDevice()
        r, old = self.srv.register(home, user)
        self.assertEqual((r.status, r.doc["status"]), (200, "registered"), r)
        old_id = b64d(old["rawId"])
        # a dead report signed by another key is refused; by the home's device key it is taken
        r = req(port, "POST", "/v1/reports/dead", EnclaveDevice().dead_report(old_id, "biometry-database-reset"))
        self.assertEqual((r.status, r.reason()), (400, "signature-invalid"), r)
        r = req(port, "POST", "/v1/reports/dead", home.dead_report(old_id, "biometry-database-reset"))
        self.assertEqual((r.status, r.doc.get("state")), (200, "dead"), r)
        self.assertEqual(self.srv.login(home, user).reason(), "credential-dead")
        # the re-enrollment names the dead credential: rebound, the old one replaced
        r, new = self.srv.register(home, user, replaces=old_id, cause="biometry-database-reset")
        self.assertEqual((r.status, r.doc["status"]), (200, "rebound"), r)
        _, lst = self.srv.credentials(user)
        states = {c["id"]: c["state"] for c in lst}
        self.assertEqual(states, {old["rawId"]: "replaced", new["rawId"]: "active"}, lst)
        home.creds.pop(old_id)
        self.assertEqual(self.srv.login(home, user).status, 200)
        # another home (another device key), a forged proof, or none at all: needs-step-up, unusable
        for dev, kw in ((EnclaveDevice(), {"replaces": b64d(new["rawId"]), "cause": "biometry-changed"}),
                        (EnclaveDevice(home.device_key), {"replaces": b64d(new["rawId"]), "forge": True}),
                        (SoftAuthenticator(), {})):
            r, other = self.srv.register(dev, user, **kw)
            self.assertEqual((r.status, r.doc["status"]), (200, "needs-step-up"), r)
            a, _ = self.srv.assertion(dev, user)
            self.assertIsNone(a)   # not offered in allowCredentials
            # and refused when the device answers with it anyway
            o = options_of(req(port, "POST", "/v1/authentication/options", {"user": user}).doc)
            a = dev.get(dict(o, allowCredentials=[{"type": "public-key", "id": other["rawId"]}]), self.srv.origins[0])
            r = req(port, "POST", "/v1/authentication", {"credential": a})
            self.assertEqual((r.status, r.reason()), (403, "step-up-required"), r)
            _, lst = self.srv.credentials(user)
            self.assertEqual([c["id"] for c in lst if c["state"] == "active"], [new["rawId"]], lst)
        # the last one is approved by an admin and becomes usable
        r = req(port, "POST", f"/v1/credentials/{other['rawId']}/approve", headers=self.srv.admin())
        self.assertEqual((r.status, r.doc.get("state")), (200, "active"), r)
        r = req(port, "POST", f"/v1/credentials/{other['rawId']}/approve", headers=self.srv.admin())
        self.assertEqual((r.status, r.reason()), (409, "step-up-not-pending"), r)
        r = req(port, "POST", "/v1/credentials/AAAA/approve", headers=self.srv.admin())
        self.assertEqual((r.status, r.reason()), (404, "credential-unknown"), r)

    def test_sigkill_under_load_loses_no_acknowledged_registration(self):
        acked, stop = [], threading.Event()

        def worker():
            dev = SoftAuthenticator()
            while not stop.is_set():
                user = self.user("load")
                r, cred = self.srv.register(dev, user)
                if r.status == 200:
                    acked.append((user, cred["rawId"]))
        ts = [threading.Thread(target=worker) for _ in range(4)]
        for t in ts:
            t.start()
        time.sleep(2.0)
        self.srv.sigkill()
        stop.set()
        for t in ts:
            t.join()
        self.assertTrue(self.srv.start(), self.srv.logtext()[-500:])
        self.assertGreater(len(acked), 5)
        for user, cid in acked:
            _, lst = self.srv.credentials(user)
            self.assertIn(cid, [c["id"] for c in lst], user)


class RpdLimits(unittest.TestCase):
    """Timeouts, a thousand idle connections, rate limits and TLS, each on a server of its own."""

    @classmethod
    def setUpClass(cls):
        if not HAVE_RPD:
            raise unittest.SkipTest(f"no {RPD}")
        cls.tmp = tempfile.mkdtemp(prefix="rpd-limits-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def server(self, name, *extra, tls=None):
        s = Rpd(self.tmp, f"sqlite:{self.tmp}/{name}.sqlite", name=name, extra=extra, tls=tls)
        self.assertTrue(s.start(), s.logtext())
        self.addCleanup(s.stop)
        return s

    def test_idle_and_slowloris_connections_time_out(self):
        s = self.server("timeouts", "--request-timeout-ms", "1000")
        idle = socket.create_connection(("127.0.0.1", s.port))
        slow = socket.create_connection(("127.0.0.1", s.port))
        t0 = time.time()
        closed_at = None
        for ch in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
            try:
                slow.send(bytes([ch]))
            except OSError:
                closed_at = time.time() - t0
                break
            time.sleep(0.1)
        slow.settimeout(3)
        try:
            closed = slow.recv(100) == b""
        except ConnectionResetError:
            closed = True
        self.assertTrue(closed_at is not None or closed)
        self.assertLess(time.time() - t0, 4)
        idle.settimeout(3)
        self.assertEqual(idle.recv(100), b"")
        self.assertEqual(req(s.port, "GET", "/healthz").status, 200)

    def test_a_thousand_idle_connections_do_not_stop_service(self):
        s = self.server("idle")
        dev, user = SoftAuthenticator(), "idle-user"
        conns = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(1000)]
        # half of them have begun a request and stalled in the middle of its header
        for c in conns[::2]:
            c.send(b"POST /v1/registration HTTP/1.1\r\nHost: x\r\n")
        t0 = time.time()
        r, _ = s.register(dev, user)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(s.login(dev, user).status, 200)
        self.assertLess(time.time() - t0, 5)
        for c in conns:
            c.close()

    def test_a_full_server_closes_its_oldest_waiting_connection(self):
        s = self.server("full", "--max-connections", "50")
        conns = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(50)]
        time.sleep(0.3)
        self.assertEqual(req(s.port, "GET", "/healthz").status, 200)
        conns[0].settimeout(3)
        self.assertEqual(conns[0].recv(10), b"")
        m = req(s.port, "GET", "/metrics").body.decode()
        self.assertRegex(m, r"enclave_rpd_connections_evicted_total [1-9]")
        for c in conns:
            c.close()

    def test_option_endpoints_are_rate_limited_with_retry_after(self):
        s = self.server("rate", "--rate-per-address", "1", "--burst-per-address", "5", "--rate-per-user", "0.5",
                        "--burst-per-user", "2")
        codes = [req(s.port, "POST", "/v1/authentication/options", {"user": "same"}) for _ in range(3)]
        self.assertEqual([r.status for r in codes[:2]], [200, 200], codes)
        self.assertEqual((codes[2].status, codes[2].reason()), (429, "rate-limited"), codes[2])
        self.assertGreaterEqual(int(codes[2].headers["retry-after"]), 1)
        more = [req(s.port, "POST", "/v1/registration/options", {"user": f"u{i}"}).status for i in range(4)]
        self.assertIn(429, more)   # the address's bucket (5) is spent by now
        self.assertEqual(req(s.port, "GET", "/healthz").status, 200)

    def test_tls(self):
        key, crt = os.path.join(self.tmp, "tls.key"), os.path.join(self.tmp, "tls.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", key, "-out", crt, "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost"], check=True, capture_output=True)
        s = self.server("tls", tls=(crt, key))
        p = subprocess.run(["curl", "-s", "--cacert", crt, "--resolve", f"localhost:{s.port}:127.0.0.1",
                            f"https://localhost:{s.port}/healthz", f"https://localhost:{s.port}/nope"],
                           capture_output=True, text=True, timeout=30)
        self.assertTrue(p.stdout.startswith('{"status":"ok"}'), p)
        self.assertIn('"not-found"', p.stdout)
        p = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://127.0.0.1:{s.port}/healthz"],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.stdout, "200")


def start_postgres():
    try:
        pg = Postgres()
        pg.start()
        pg.createdb()
        return pg
    except (FileNotFoundError, subprocess.CalledProcessError) as e:
        raise unittest.SkipTest(f"no PostgreSQL to start: {e}")


class RpdPostgres(RpdFlow):
    """RpdFlow's cases again on PostgreSQL, then two instances behind haproxy and a stopped database."""
    pg = None

    @classmethod
    def database(cls):
        cls.pg = start_postgres()
        return cls.pg.url

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        if cls.pg:
            cls.pg.close()

    def second(self):
        s = Rpd(self.tmp, self.pg.url, name="pg2", extra=self.extra, origins=self.srv.origins, token=self.srv.token)
        self.assertTrue(s.start(), s.logtext())
        self.addCleanup(s.stop)
        return s

    def test_two_instances_behind_haproxy_share_challenges(self):
        other = self.second()
        lb = Haproxy(self.tmp, [self.srv.port, other.port])
        self.addCleanup(lb.close)
        dev, user = SoftAuthenticator(), self.user("lb")
        o = req(lb.port, "POST", "/v1/registration/options", {"user": user})
        cred = dev.create(options_of(o.doc), self.srv.origins[0])
        r = req(lb.port, "POST", "/v1/registration", {"credential": cred})
        self.assertEqual(r.status, 200, r)
        # issued by one instance, redeemed at the other, many times over
        for issuer, redeemer in ((self.srv, other), (other, self.srv)):
            a, _ = issuer.assertion(dev, user)
            r = req(redeemer.port, "POST", "/v1/authentication", {"credential": a})
            self.assertEqual((r.status, r.doc.get("status")), (200, "ok"), r)
        for _ in range(6):
            r = self.srv.login(dev, user, port=lb.port)
            self.assertEqual(r.status, 200, r)
        # twenty concurrent redemptions of one assertion through both: exactly one succeeds
        a, _ = self.srv.assertion(dev, user)
        res, gate = [None] * 20, threading.Barrier(20)

        def one(i):
            gate.wait()
            res[i] = req([self.srv.port, other.port, lb.port][i % 3], "POST", "/v1/authentication",
                         {"credential": a}, timeout=30).status
        ts = [threading.Thread(target=one, args=(i,)) for i in range(20)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(res.count(200), 1, res)
        self.assertTrue(all(s and 400 <= s < 500 for s in res if s != 200), res)

    def test_postgres_stopped_under_load_gives_fast_503_and_recovers(self):
        dev, user = SoftAuthenticator(), self.user("pgstop")
        self.assertEqual(self.srv.register(dev, user)[0].status, 200)
        statuses, stop = [], threading.Event()
        # however the test ends, the load stops (a failed assertion must not leave it running)
        self.addCleanup(stop.set)

        def load():
            while not stop.is_set():
                t = time.time()
                r = req(self.srv.port, "POST", "/v1/authentication/options", {"user": user}, timeout=15)
                statuses.append((t, r.status, r.elapsed, r.headers.get("retry-after")))
        ts = [threading.Thread(target=load) for _ in range(4)]
        for t in ts:
            t.start()
        time.sleep(0.5)
        self.pg.stop()
        stopped = time.time()
        time.sleep(3)
        r = req(self.srv.port, "POST", "/v1/authentication/options", {"user": user})
        self.assertEqual(r.status, 503, r)
        self.assertLess(r.elapsed, 5)
        self.assertIn("retry-after", r.headers)
        self.assertEqual(req(self.srv.port, "GET", "/healthz").status, 503)
        restarted = time.time()
        self.pg.start()
        t0, ok = time.time(), False
        while time.time() - t0 < 30 and not ok:
            ok = self.srv.login(dev, user).status == 200
            time.sleep(0.3)
        stop.set()
        for t in ts:
            t.join()
        self.assertTrue(ok, "no login within 30 s of PostgreSQL's return")
        self.assertTrue(self.srv.alive())
        # every request made while the database was down failed fast with 503 and Retry-After
        during = [x for x in statuses if stopped + 0.5 < x[0] < restarted - 0.5]
        self.assertTrue(during and all(st == 503 and e < 5 and ra for _, st, e, ra in during), during)


class RpdBrowser(RpdTest):
    """Headless Chromium with a WebAuthn virtual authenticator registers and signs in on /demo."""

    def test_demo_page_registers_and_signs_in(self):
        try:
            from selenium import webdriver
            from selenium.webdriver.chrome.service import Service
            from selenium.webdriver.common.by import By
            from selenium.webdriver.common.virtual_authenticator import VirtualAuthenticatorOptions
        except ImportError as e:
            self.skipTest(f"selenium: {e}")
        if not (os.path.exists("/usr/bin/chromium") and os.path.exists("/usr/bin/chromedriver")):
            self.skipTest("no chromium / chromedriver")
        o = webdriver.ChromeOptions()
        o.binary_location = "/usr/bin/chromium"
        for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--window-size=1000,800", f"--user-data-dir={self.tmp}/chromium-profile"):
            o.add_argument(arg)
        d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
        self.addCleanup(d.quit)
        d.set_page_load_timeout(30)
        d.get(f"http://localhost:{self.srv.port}/demo")
        d.add_virtual_authenticator(VirtualAuthenticatorOptions(
            protocol="ctap2", transport="internal", has_resident_key=True, has_user_verification=True,
            is_user_verified=True))
        status = lambda: d.find_element(By.ID, "status").text
        d.find_element(By.ID, "username").send_keys("carol")
        d.find_element(By.ID, "register").click()
        end = time.time() + 20
        while time.time() < end and not status():
            time.sleep(0.2)
        self.assertRegex(status(), r"^registered carol: registered", d.find_element(By.ID, "log").text)
        d.find_element(By.ID, "signin").click()
        end = time.time() + 20
        while time.time() < end and not status().startswith(("signed in", "sign-in failed")):
            time.sleep(0.2)
        self.assertEqual(status(), "signed in carol: ok", d.find_element(By.ID, "log").text)
        shot = os.path.join(self.tmp, "demo.png")
        d.save_screenshot(shot)
        with open(shot, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        r, lst = self.srv.credentials("carol")
        self.assertEqual([c["state"] for c in lst], ["active"], r)


if __name__ == "__main__":
    unittest.main()
