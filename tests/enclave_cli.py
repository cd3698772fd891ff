"""Helpers for the end-to-end tests: a throwaway enclave home driven through build/bin/enclave,
with the real daemon behind it."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

BIN = os.environ.get("ENCLAVE_BIN_DIR", os.path.join(os.path.dirname(__file__), "..", "build", "bin"))


class Home:
    def __init__(self, debug=False):
        self.dir = tempfile.mkdtemp(prefix="enclave-e2e-")
        self.env = dict(os.environ, ENCLAVE_HOME=self.dir)
        self.work = tempfile.mkdtemp(prefix="enclave-e2e-data-")
        if debug:
            self.run("daemon", "start", "--debug", check=True)

    def path(self, name):
        return os.path.join(self.work, name)

    def write(self, name, data):
        with open(self.path(name), "wb") as f:
            f.write(data)
        return self.path(name)

    def run(self, *args, stdin=None, check=False, timeout=60):
        r = subprocess.run([os.path.join(BIN, "enclave"), *args], env=self.env, input=stdin,
                           capture_output=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"enclave {' '.join(args)} failed: {r.stdout[-500:]!r} {r.stderr[-500:]!r}")
        return r

    def json(self, *args, **kw):
        r = self.run(*args, "--json", **kw)
        try:
            doc = json.loads(r.stdout.decode() or "{}")
        except json.JSONDecodeError:
            doc = {"unparsed": r.stdout.decode(errors="replace"), "stderr": r.stderr.decode(errors="replace")}
        return r.returncode, doc

    def close(self):
        try:
            self.run("daemon", "stop", timeout=30)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
            shutil.rmtree(self.work, ignore_errors=True)


def err(doc):
    return doc.get("error", {}) if isinstance(doc, dict) else {}


class HomeTest(unittest.TestCase):
    debug = False

    def setUp(self):
        self.h = Home(debug=self.debug)
        self.addCleanup(self.h.close)

    def ok(self, *args, **kw):
        rc, doc = self.h.json(*args, **kw)
        self.assertEqual(rc, 0, f"enclave {' '.join(args)}: {doc}")
        return doc

    def fails(self, *args, **kw):
        rc, doc = self.h.json(*args, **kw)
        self.assertNotEqual(rc, 0, f"enclave {' '.join(args)} should fail: {doc}")
        return doc

    def simulator(self, finger="right-thumb"):
        self.ok("config", "set", "biometry", "simulator")
        self.ok("biometry", "enroll", "--finger", finger)
        self.ok("biometry", "match")

    def openssl_verify(self, pem, sig, data):
        v = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pem, "-signature", sig, data],
                           capture_output=True)
        return v.returncode == 0 and b"Verified OK" in v.stdout
