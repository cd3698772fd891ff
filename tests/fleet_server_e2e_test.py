"""The fleet view's server end to end: a real enclave-rpd on a real SQLite file and on a throwaway
PostgreSQL, devices registered with an enclave-device proof, their signed report batches built here
with `cryptography` (docs/fleet.md's envelope), a local webhook receiver. Each test keeps to its own
causes and its own hours of report time, so one server per class serves them all."""
import csv
import http.server
import io
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from rpd_harness import EnclaveDevice, Postgres, Rpd, b64u, cose_es256, free_port, req
import hashlib

CONTEXT = b"enclave-fleet-batch-v1\x00"


def rfc(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(t)))


def report(kind, t, **fields):
    r = {"id": b64u(os.urandom(16)), "time": rfc(t), "kind": kind, "enclave_version": "0.1.0", "os_id": "debian",
         "os_version": "12", "kernel": "6.1.0-18-amd64", "app_id": "com.example.app", "app_version": "1.0"}
    r.update(fields)
    return r


def failure(t, cause, credential_id=None, **fields):
    fields = {"operation": "sign", "domain": "CryptoTokenKit", "code": -3, "cause": cause, "permanence": "permanent",
              "remedy": "reenroll", "found_by": "use", "token": "soft", "prompted": False, **fields}
    r = report("failure", t, **fields)
    if credential_id:
        r["credential_id"] = credential_id
    return r


def heartbeat(t, **fields):
    return report("heartbeat", t, keys={"healthy": 1}, **fields)


class Receiver:
    """A webhook receiver: every POST's JSON body, in order."""

    def __init__(self):
        self.posts = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                outer.posts.append(json.loads(self.rfile.read(n)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, issue_id):
        return [p for p in self.posts if p.get("issue", {}).get("id") == issue_id]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Device:
    """A registered enclave device: its credential and the device key that signs its batches."""

    def __init__(self, rpd, user):
        self.dev = EnclaveDevice()
        r, cred = rpd.register(self.dev, user)
        assert r.status == 200, r
        self.credential_id = cred["id"]
        self.cose = cose_es256(self.dev.device_key.public_key())
        self.hash = b64u(hashlib.sha256(self.cose).digest())

    def envelope(self, reports, dropped=0, key=None):
        batch = json.dumps({"reports": reports, "sent_at": rfc(time.time()), "dropped": dropped},
                           separators=(",", ":")).encode()
        sig = (key or self.dev.device_key).sign(CONTEXT + batch, ec.ECDSA(hashes.SHA256()))
        return {"device_key": b64u(self.cose), "batch": b64u(batch), "signature": b64u(sig)}


class FleetServerBase:
    """The tests; a subclass names the store."""

    @classmethod
    def open_db(cls):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fleet-e2e-")
        cls.hook = Receiver()
        cls.rpd = Rpd(cls.tmp, cls.open_db(), extra=["--rate-per-address", "0", "--rate-per-user", "0", "--quiet",
                                                     "--fleet-webhook", cls.hook.url,
                                                     "--fleet-escalation-min-devices", "2"])
        assert cls.rpd.start(), cls.rpd.logtext()
        # Report times: each test has hours of its own, days back (within the retention).
        cls.base = (int(time.time()) // 3600 - 24 * 30) * 3600

    @classmethod
    def tearDownClass(cls):
        cls.rpd.stop()
        cls.hook.close()
        cls.close_db()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def close_db(cls):
        pass

    def send(self, device, reports, **kw):
        return req(self.rpd.port, "POST", "/v1/reports", device.envelope(reports, **kw))

    def admin(self, path, method="GET"):
        return req(self.rpd.port, method, path, headers=self.rpd.admin())

    def summary(self, since, until):
        r = self.admin(f"/v1/fleet/summary?since={since}&until={until}")
        self.assertEqual(r.status, 200, r)
        return r.doc

    def wait(self, predicate, seconds=10):
        end = time.time() + seconds
        while time.time() < end:
            got = predicate()
            if got:
                return got
            time.sleep(0.2)
        return predicate()

    def cause_of(self, summary, issue_id):
        return next((c for c in summary["by_cause"] if c["issue_id"] == issue_id), None)

    def test_accepted_then_deduplicated(self):
        d = Device(self.rpd, "dedupe")
        t = self.base + 1 * 3600
        reports = [failure(t + 10, "dedupe-probe", d.credential_id), heartbeat(t + 20)]
        r = self.send(d, reports)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(sorted(r.doc["accepted"]), sorted(x["id"] for x in reports))
        self.assertEqual(r.doc["duplicates"], [])
        again = self.send(d, reports + [heartbeat(t + 30)])
        self.assertEqual(again.status, 202, again)
        self.assertEqual(len(again.doc["accepted"]), 1)
        self.assertEqual(sorted(again.doc["duplicates"]), sorted(x["id"] for x in reports))
        s = self.summary(t, t + 3600)
        c = self.cause_of(s, "device.dedupe-probe")
        self.assertEqual((c["events"], c["affected_devices"]), (1, 1), s)

    def test_refusals_have_their_reasons_and_are_counted(self):
        d = Device(self.rpd, "refused")
        t = time.time()
        before = self.summary(rfc(t - 60), rfc(t + 3600))["refused_batches"]
        stranger = Device.__new__(Device)
        stranger.dev = EnclaveDevice()
        stranger.cose = cose_es256(stranger.dev.device_key.public_key())
        r = self.send(stranger, [heartbeat(t)])
        self.assertEqual((r.status, r.reason()), (403, "unknown-device"), r)
        r = self.send(d, [heartbeat(t)], key=ec.generate_private_key(ec.SECP256R1()))
        self.assertEqual((r.status, r.reason()), (401, "signature-invalid"), r)
        bad = heartbeat(t)
        bad["label"] = "alice's key"
        r = self.send(d, [heartbeat(t), bad])
        self.assertEqual((r.status, r.reason()), (400, "schema-invalid"), r)
        self.assertIn("reports[1]", r.doc["error"]["message"])
        self.assertNotIn("alice", r.body.decode())
        wrong = failure(t, "Biometry Reset")
        r = self.send(d, [wrong])
        self.assertEqual((r.status, r.reason()), (400, "schema-invalid"), r)
        self.assertIn("reports[0].cause", r.doc["error"]["message"])
        r = req(self.rpd.port, "POST", "/v1/reports", {"reports": [{"id": "x"}], "signature": "AAAA"})
        self.assertEqual((r.status, r.reason()), (400, "schema-invalid"), r)
        r = self.send(d, [heartbeat(t) for _ in range(1001)])
        self.assertEqual((r.status, r.reason()), (413, "batch-too-large"), r)
        r = req(self.rpd.port, "POST", "/v1/reports", b"{" + b" " * (7 * 1024 * 1024) + b"}")
        self.assertEqual((r.status, r.reason()), (413, "batch-too-large"), r)
        want = {"unknown-device": 1, "signature-invalid": 1, "schema-invalid": 3, "batch-too-large": 1}

        def counted():
            now = self.summary(rfc(t - 60), rfc(t + 3600))["refused_batches"]
            return all(now.get(k, 0) - before.get(k, 0) >= n for k, n in want.items()) and now
        now = self.wait(counted)
        self.assertTrue(now, now)
        for k, n in want.items():
            self.assertEqual(now[k] - before.get(k, 0), n, (k, now, before))

    def test_summary_counts_with_its_denominator(self):
        t = self.base + 3 * 3600
        devices = [Device(self.rpd, f"denominator{i}") for i in range(4)]
        received = time.time()
        dropped_before = self.summary(rfc(received - 60), rfc(received + 3600))["dropped_reports"]
        for i, d in enumerate(devices):
            reports = [heartbeat(t + 60, os_version="12" if i < 2 else "11")]
            if i == 0:
                reports.append(failure(t + 120, "denominator-probe", d.credential_id, found_by="doctor"))
            self.assertEqual(self.send(d, reports, dropped=2 if i == 3 else 0).status, 202)
        s = self.summary(t, t + 3600)
        self.assertEqual((s["active_devices"], s["affected_devices"]), (4, 1), s)
        self.assertAlmostEqual(s["affected_fraction"], 0.25)
        # Dropped reports are counted when the server learns of them.
        dropped = self.summary(rfc(received - 60), rfc(received + 3600))["dropped_reports"]
        self.assertEqual(dropped - dropped_before, 2)
        c = self.cause_of(s, "device.denominator-probe")
        self.assertEqual((c["source"], c["affected_devices"], c["found_by_doctor"]), ("device", 1, 1), c)
        self.assertAlmostEqual(c["fraction"], 0.25)
        os12 = next(v for v in s["by_version"] if v["dimension"] == "os_version" and v["value"] == "12")
        self.assertEqual((os12["active_devices"], os12["affected_devices"]), (2, 1))
        self.assertAlmostEqual(os12["fraction"], 0.5)
        point = next(p for p in s["series"] if p["cause"] == "denominator-probe")
        self.assertEqual((point["hour"], point["active_devices"], point["affected_devices"]), (rfc(t), 4, 1))
        self.assertEqual(self.admin(f"/v1/fleet/summary?since=yesterday").reason(), "query-invalid")
        self.assertEqual(self.admin(f"/v1/fleet/summary?since={t}&until={t}").status, 400)
        self.assertEqual(req(self.rpd.port, "GET", "/v1/fleet/summary").status, 401)
        self.assertEqual(req(self.rpd.port, "GET", "/v1/fleet/summary", headers=self.rpd.admin("wrong")).status, 401)

    def test_server_refusals_are_issues_of_their_own(self):
        d = Device(self.rpd, "refusing")
        self.assertEqual(self.send(d, [failure(time.time() - 5, "credential-dead", d.credential_id)]).status, 202)
        bogus = {"credential": {"id": d.credential_id, "rawId": d.credential_id, "type": "public-key",
                                "response": {}}}
        r = req(self.rpd.port, "POST", "/v1/authentication", bogus)
        self.assertEqual(r.status, 400, r)
        reason = r.reason()
        r = req(self.rpd.port, "POST", "/v1/authentication", {"credential": {"id": "AAAA", "rawId": "AAAA",
                                                                             "type": "public-key", "response": {}}})
        self.assertEqual(r.reason(), reason)

        def issue():
            r = self.admin(f"/v1/fleet/issues/server.{reason}")
            return r.doc if r.status == 200 and d.credential_id in r.doc["credential_ids"] else None
        doc = self.wait(issue)
        self.assertTrue(doc, self.admin(f"/v1/fleet/issues/server.{reason}"))
        self.assertEqual(doc["source"], "server")
        self.assertNotIn("AAAA", doc["credential_ids"])  # unknown to the server: not kept
        self.assertGreaterEqual(doc["devices_affected"], 1)
        # The device's own report of the same cause is another issue.
        device_issue = self.admin("/v1/fleet/issues/device.credential-dead").doc
        self.assertEqual(device_issue["source"], "device")
        issues = self.admin("/v1/fleet/issues").doc["issues"]
        ids = [i["id"] for i in issues]
        self.assertIn(f"server.{reason}", ids)
        self.assertIn("device.credential-dead", ids)
        self.assertEqual(self.admin("/v1/fleet/issues/server.never-seen").status, 404)

    def test_escalating_and_regressed_alert_once_each(self):
        devices = [Device(self.rpd, f"alert{i}") for i in range(5)]
        issue = "device.alert-probe"
        now = time.time()
        for d in devices[:3]:
            self.assertEqual(self.send(d, [failure(now, "alert-probe", d.credential_id)]).status, 202)
        self.assertTrue(self.wait(lambda: self.hook.of(issue)), self.hook.posts)
        time.sleep(1)
        self.assertEqual([p["transition"] for p in self.hook.of(issue)], ["escalating"])
        self.assertEqual(self.hook.of(issue)[0]["issue"]["state"], "escalating")
        r = self.admin(f"/v1/fleet/issues/{issue}/resolve", method="POST")
        self.assertEqual((r.status, r.doc["state"]), (200, "resolved"), r)
        for d in devices[3:]:
            r = self.send(d, [failure(time.time(), "alert-probe", d.credential_id, app_version="1.1")])
            self.assertEqual(r.status, 202)
        self.assertTrue(self.wait(lambda: len(self.hook.of(issue)) >= 2), self.hook.posts)
        time.sleep(1.5)
        posts = self.hook.of(issue)
        self.assertEqual([p["transition"] for p in posts], ["escalating", "regressed"])
        self.assertEqual(posts[1]["issue"]["versions"]["app_version"], ["1.0", "1.1"])
        self.assertEqual(self.admin(f"/v1/fleet/issues/{issue}").doc["state"], "regressed")

    def test_rebind_counts_and_times(self):
        d = Device(self.rpd, "rebinder")
        t = time.time() - 600
        self.assertEqual(self.send(d, [failure(t, "rebind-probe", d.credential_id)]).status, 202)
        again = report("reenroll", t + 300, credential_id=b64u(os.urandom(16)), replaced_credential_id=d.credential_id,
                       cause="rebind-probe")
        self.assertEqual(self.send(d, [again]).status, 202)
        doc = self.admin("/v1/fleet/issues/device.rebind-probe").doc
        self.assertEqual((doc["devices_affected"], doc["devices_rebound"]), (1, 1), doc)
        self.assertEqual(doc["time_to_rebind_seconds"], {"count": 1, "median": 300, "p90": 300})
        self.assertEqual(doc["credential_ids"], [d.credential_id])

    def test_export_json_and_csv(self):
        d = Device(self.rpd, "exporter")
        t = self.base + 5 * 3600
        f = failure(t, "export-probe", d.credential_id, app_version="-1")
        self.assertEqual(self.send(d, [f]).status, 202)
        r = self.admin(f"/v1/fleet/export?format=json&since={t}&until={t + 60}")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.doc), 1)
        self.assertEqual((r.doc[0]["id"], r.doc[0]["device"], r.doc[0]["cause"]), (f["id"], d.hash, "export-probe"))
        self.assertNotIn(b64u(d.cose), r.body.decode())
        r = self.admin(f"/v1/fleet/export?format=csv&since={t}&until={t + 60}")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("Content-Type", r.headers.get("content-type", "")).startswith("text/csv"))
        rows = list(csv.DictReader(io.StringIO(r.body.decode())))
        self.assertEqual(len(rows), 1)
        # The formula guard applies to every text cell, so a random report id that starts with
        # `-` (1 in 64) is exported with it too.
        guarded = "'" + f["id"] if f["id"][0] in "=+-@" else f["id"]
        self.assertEqual((rows[0]["id"], rows[0]["code"], rows[0]["app_version"]), (guarded, "-3", "'-1"))
        self.assertEqual(self.admin("/v1/fleet/export?format=xml").reason(), "query-invalid")

    def test_old_reports_are_expired_and_retention_drops_raw_reports(self):
        d = Device(self.rpd, "retention")
        old = time.time() - 91 * 86400
        r = self.send(d, [heartbeat(old)])
        self.assertEqual((r.status, r.doc["accepted"], len(r.doc["expired"])), (202, [], 1), r)
        # A server with a 2-day retention on a database holding a 3-day-old report drops it at
        # once, and its aggregates stay.
        db = self.open_db(fresh=True)
        first = Rpd(self.tmp, db, name="retention-a", extra=["--quiet"])
        self.assertTrue(first.start(), first.logtext())
        try:
            dev = Device(first, "retained")
            t = time.time() - 3 * 86400
            self.assertEqual(req(first.port, "POST", "/v1/reports", dev.envelope([heartbeat(t)])).status, 202)
            self.assertEqual(len(req(first.port, "GET", f"/v1/fleet/export?since={int(t) - 10}",
                                     headers=first.admin()).doc), 1)
        finally:
            first.stop()
        second = Rpd(self.tmp, db, name="retention-b", extra=["--quiet", "--report-retention", "2"])
        self.assertTrue(second.start(), second.logtext())
        try:
            gone = self.wait(lambda: req(second.port, "GET", f"/v1/fleet/export?since={int(t) - 10}",
                                         headers=second.admin()).doc == [])
            self.assertTrue(gone)
            s = req(second.port, "GET", f"/v1/fleet/summary?since={int(t) - 10}&until={int(t) + 10}",
                    headers=second.admin()).doc
            self.assertEqual(s["active_devices"], 1, s)
            self.check_partitions_dropped(db, t)
        finally:
            second.stop()

    def check_partitions_dropped(self, db, t):
        pass


class FleetServerSqlite(FleetServerBase, unittest.TestCase):
    @classmethod
    def open_db(cls, fresh=False):
        return "sqlite:" + os.path.join(cls.tmp, f"rp-{secrets.token_hex(4)}.sqlite")


class FleetServerPostgres(FleetServerBase, unittest.TestCase):
    @classmethod
    def open_db(cls, fresh=False):
        if not fresh:
            cls.pg = Postgres()
            cls.pg.start()
            cls.pg.createdb()
            return cls.pg.url
        name = "fleet_" + secrets.token_hex(4)
        subprocess.run(["psql", f"postgresql://postgres@127.0.0.1:{cls.pg.port}/postgres", "-Atc",
                        f"create database {name}"], check=True, capture_output=True, timeout=30)
        return f"postgresql://postgres@127.0.0.1:{cls.pg.port}/{name}"

    @classmethod
    def close_db(cls):
        cls.pg.close()

    def check_partitions_dropped(self, db, t):
        out = subprocess.run(["psql", db, "-Atc", "select c.relname from pg_inherits i join pg_class c on "
                              "c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent where "
                              "p.relname = 'fleet_reports'"], check=True, capture_output=True, timeout=30)
        self.assertNotIn(f"fleet_reports_d{int(t) // 86400}", out.stdout.decode())


if __name__ == "__main__":
    unittest.main()
