#!/usr/bin/python3
"""A fleet of simulated enclave devices driven through enclave-rpd by the real protocols: each device
registers a credential with its device-key proof, sends a daily heartbeat (the denominator), some
log in; on one OS version a fraction of the devices have their biometric database reset and their
keys die (some found by `doctor` before use), they report it in signed batches, and most re-enroll
and are re-bound by the device-key proof. A few logins carry a bad signature, so the server's own
refusals show up beside the devices' failures. Prints what it did and the fleet summary as JSON.

usage: fleet_sim.py --url http://localhost:PORT --token-file F [--devices 10000] [--seed 18] ..."""
import argparse
import concurrent.futures
import json
import random
import sys
import threading
import time
import urllib.parse

from fleet_protocol import CAUSE, Client, Device

OS_MIX = [(("debian", "11"), 0.15), (("debian", "12"), 0.35), (("ubuntu", "22.04"), 0.20),
          (("ubuntu", "24.04"), 0.25), (("fedora", "40"), 0.05)]
APP_MIX = [("2.3.0", 0.45), ("2.4.0", 0.40), ("2.4.1", 0.15)]
TOKEN_MIX = [("soft", 0.7), ("tpm2", 0.3)]


def pick(rng, mix):
    x, acc = rng.random(), 0.0
    for value, weight in mix:
        acc += weight
        if x < acc:
            return value
    return mix[-1][0]


class Fleet:
    def __init__(self, args):
        u = urllib.parse.urlsplit(args.url)
        self.host, self.port, self.origin = u.hostname, u.port, args.origin or args.url.rstrip("/")
        self.args = args
        self.rng = random.Random(args.seed)
        self.local = threading.local()
        self.counts = {}
        self.lock = threading.Lock()
        self.now = int(time.time())

    def client(self):
        if not hasattr(self.local, "c"):
            self.local.c = Client(self.host, self.port)
        return self.local.c

    def count(self, what, n=1):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + n

    def parallel(self, fn, items):
        with concurrent.futures.ThreadPoolExecutor(self.args.threads) as pool:
            for _ in pool.map(fn, items):
                pass

    def build(self):
        a, rng = self.args, self.rng
        self.devices = []
        for i in range(a.devices):
            os_id, os_version = pick(rng, OS_MIX)
            d = Device(f"sim-{i:05d}", os_id=os_id, os_version=os_version, app_version=pick(rng, APP_MIX),
                       token=pick(rng, TOKEN_MIX))
            d.plan = {}
            self.devices.append(d)
        bad_os = tuple(a.bad_os.split(":"))
        on_bad = [d for d in self.devices if (d.facts["os_id"], d.facts["os_version"]) == bad_os]
        affected = rng.sample(on_bad, max(1, round(len(on_bad) * a.fraction)))
        for d in affected:
            # The reset happened within the last day and a half; the report follows within minutes
            # (the device was online), doctor found a third of them before any use.
            t = self.now - rng.randint(2 * 3600, 36 * 3600)
            d.plan["failure"] = t
            d.plan["found_by"] = "doctor" if rng.random() < a.doctor_share else "use"
            if rng.random() < a.reenroll_share:
                d.plan["reenroll_after"] = min(int(rng.lognormvariate(8.0, 1.0)), self.now - t - 60)
        self.bad_os, self.on_bad, self.affected = bad_os, on_bad, affected

    def register(self, d):
        st, doc = d.register(self.client(), self.origin)
        self.count("registered" if st == 200 else f"registration-{st}")

    def report(self, d):
        rng = random.Random(f"{self.args.seed}-{d.user}")
        # A heartbeat a day for the last two days: the devices active in any window of the summary.
        reports = [d.heartbeat(self.now - 86400 - rng.randint(0, 86000)), d.heartbeat(self.now - rng.randint(60, 86000))]
        if "failure" in d.plan:
            reports.append(d.failure(d.plan["failure"] + rng.randint(5, 300), found_by=d.plan["found_by"]))
        st, doc = d.send(self.client(), reports, dropped=1 if rng.random() < 0.002 else 0)
        self.count("batches-accepted" if st == 202 else f"batch-{st}")
        if st == 202:
            self.count("reports-accepted", len((doc or {}).get("accepted", [])))

    def login(self, d):
        st, doc = d.login(self.client(), self.origin)
        self.count("logins-ok" if st == 200 else f"login-{st}")

    def refused_login(self, d):
        st, doc = d.login(self.client(), self.origin, tamper=True)
        self.count(f"server-refused-{(doc or {}).get('error', {}).get('reason', st)}")

    def reenroll(self, d):
        old = d.credential_id
        st, doc = d.register(self.client(), self.origin, replaces=old, cause=CAUSE)
        status = (doc or {}).get("status", st)
        self.count(f"reenroll-{status}")
        if status == "rebound":
            t = d.plan["failure"] + d.plan["reenroll_after"]
            st, _ = d.send(self.client(), [d.reenroll(t, d.credential_id, old)])
            self.count("reenroll-reports-accepted" if st == 202 else f"reenroll-report-{st}")

    def run(self):
        a = self.args
        t0 = time.time()
        self.build()
        self.parallel(self.register, self.devices)
        t1 = time.time()
        self.parallel(self.report, self.devices)
        t2 = time.time()
        sample = self.rng.sample(self.devices, int(len(self.devices) * a.login_share))
        self.parallel(self.login, sample)
        self.parallel(self.refused_login, self.rng.sample(self.devices, a.refused_logins))
        self.parallel(self.reenroll, [d for d in self.affected if "reenroll_after" in d.plan])
        t3 = time.time()
        return {"devices": len(self.devices), "on_bad_os": len(self.on_bad), "bad_os": ":".join(self.bad_os),
                "affected": len(self.affected),
                "found_by_doctor": sum(1 for d in self.affected if d.plan["found_by"] == "doctor"),
                "planned_reenrolls": sum(1 for d in self.affected if "reenroll_after" in d.plan),
                "counts": dict(sorted(self.counts.items())),
                "seconds": {"register": round(t1 - t0, 1), "report": round(t2 - t1, 1),
                            "logins_and_reenrolls": round(t3 - t2, 1)}}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--origin", help="the origin clientDataJSON names (default: --url)")
    p.add_argument("--devices", type=int, default=10000)
    p.add_argument("--bad-os", default="ubuntu:24.04", help="OS_ID:VERSION_ID whose biometric databases reset")
    p.add_argument("--fraction", type=float, default=0.003, help="of the devices on --bad-os")
    p.add_argument("--doctor-share", type=float, default=1 / 3)
    p.add_argument("--reenroll-share", type=float, default=0.8)
    p.add_argument("--login-share", type=float, default=0.2)
    p.add_argument("--refused-logins", type=int, default=12)
    p.add_argument("--threads", type=int, default=6)
    p.add_argument("--seed", type=int, default=18)
    out = Fleet(p.parse_args()).run()
    json.dump(out, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
