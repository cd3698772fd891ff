"""Issue 4 end to end: doctor, explain, events, sysdiagnose without secrets, reenroll, and
reenroll atomicity when the daemon is killed in the middle."""
import os
import random
import signal
import subprocess
import tarfile
import time
import unittest

from enclave_cli import HomeTest, err

SIGN = ["--algorithm", "ecdsa-signature-message-x962-sha256", "--prompt", "Verify your identity"]
FIELD_REPORT = ('Error Domain=CryptoTokenKit Code=-3 "<sepk:p256 kid=1214c04d05261ee3>: unable to sign digest" '
                'UserInfo={NSDebugDescription=<sepk:p256 kid=1214c04d05261ee3>: unable to sign digest, '
                'AKSError=-536362999}')


class RecoveryFlow(HomeTest):
    debug = True

    def setUp(self):
        super().setUp()
        self.simulator()
        self.passcode = b"97531864"
        self.h.run("passcode", "set", "--passcode-stdin", stdin=self.passcode + b"\n", check=True)
        self.data = self.h.write("data.bin", b"nonce-5678")
        self.key = self.ok("key", "create", "--application-label", "unique label", "--accessible",
                           "when-unlocked-this-device-only", "--access-control", "biometry-any,private-key-usage")

    def test_doctor_explain_bundle_reenroll(self):
        d = self.ok("doctor")
        self.assertEqual([k["verdict"] for k in d["keys"]], ["healthy"])
        self.ok("debug", "inject", "biometry-reset")
        self.ok("biometry", "enroll", "--finger", "right-thumb")
        rc, d = self.h.json("doctor")
        self.assertNotEqual(rc, 0)
        self.assertEqual(d["keys"][0]["verdict"], "permanently-invalid")
        self.assertEqual(d["keys"][0]["remedy"], "reenroll")
        ev = self.ok("events")
        self.assertTrue(any(self.key["kid"] in e["kids"] for e in ev["events"]))
        x = self.ok("explain", FIELD_REPORT)
        self.assertIn("-536362999", str(x))
        self.assertIn("reenroll", str(x))
        bundle = self.h.path("diag.tar.gz")
        self.assertEqual(self.h.run("sysdiagnose", "-o", bundle).returncode, 0)
        with tarfile.open(bundle) as tf:
            content = b"".join(tf.extractfile(m).read() for m in tf.getmembers() if m.isfile())
        self.assertIn(self.key["kid"].encode(), content)
        self.assertNotIn(self.passcode, content)
        secret = open(os.path.join(self.h.dir, "keybag", "device.secret"), "rb").read()
        self.assertNotIn(secret, content)
        self.assertNotIn(secret.hex().encode(), content)
        r = self.ok("key", "reenroll", "--application-label", "unique label")
        self.assertEqual(r["old_kid"], self.key["kid"])
        self.assertNotEqual(r["kid"], self.key["kid"])
        sig, pem = self.h.path("s.der"), self.h.path("p.pem")
        self.ok("sign", "--application-label", "unique label", *SIGN, "--in", self.data, "--out", sig)
        self.ok("key", "export-public", "--application-label", "unique label", "--format", "spki-pem", "--out", pem)
        self.assertTrue(self.openssl_verify(pem, sig, self.data))
        self.ok("doctor")

    def test_reenroll_is_atomic_when_the_daemon_is_killed(self):
        rng = random.Random(1234)
        kids = {self.key["kid"]}
        # 100 rounds; a sanitizer build, whose every process start costs a third of a second,
        # runs fewer (make test-sanitize sets ENCLAVE_E2E_KILL_ROUNDS) and make test runs all.
        for i in range(int(os.environ.get("ENCLAVE_E2E_KILL_ROUNDS", "100"))):
            proc = subprocess.Popen([os.path.join(os.environ.get("ENCLAVE_BIN_DIR", "build/bin"), "enclave"),
                                     "key", "reenroll", "--application-label", "unique label", "--json"],
                                    env=self.h.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0, 0.03))
            try:
                pid = int(open(os.path.join(self.h.dir, "enclaved.pid")).read().strip())
                os.kill(pid, signal.SIGKILL)
            except (OSError, ValueError):
                pass
            proc.communicate(timeout=60)
            listing = self.ok("key", "list", "--application-label", "unique label")
            self.assertEqual(len(listing["keys"]), 1, f"round {i}: {listing}")
            kids.add(listing["keys"][0]["kid"])
            rc, s = self.h.json("sign", "--application-label", "unique label", *SIGN, "--in", self.data,
                                "--out", self.h.path("s"))
            self.assertEqual(rc, 0, f"round {i}: {s}")
        self.assertGreater(len(kids), 1, "some reenrollments completed")


if __name__ == "__main__":
    unittest.main()
