"""Issue 3 end to end through the CLI and the real daemon: prompts, lock state, the field report's
policy-invalid failure (also across a daemon restart), passcode removal and lockout."""
import unittest

from enclave_cli import HomeTest, err

SIGN = ["--algorithm", "ecdsa-signature-message-x962-sha256", "--prompt", "Verify your identity"]


class AccessFlow(HomeTest):
    def setUp(self):
        super().setUp()
        self.simulator()
        self.data = self.h.write("data.bin", b"nonce-1234")

    def sign(self, label):
        return self.h.json("sign", "--application-label", label, *SIGN, "--in", self.data, "--out", self.h.path("s"))

    def create(self, label, accessible="when-unlocked-this-device-only", acl="biometry-any,private-key-usage"):
        return self.ok("key", "create", "--application-label", label, "--accessible", accessible,
                       "--access-control", acl)

    def test_prompt_outcomes(self):
        self.create("unique label")
        rc, s = self.sign("unique label")
        self.assertEqual(rc, 0, s)
        self.assertIs(s["prompted"], True)
        self.ok("biometry", "no-match")
        rc, s = self.sign("unique label")
        self.assertEqual((err(s)["domain"], err(s)["code"]), ("LocalAuthentication", -1))
        self.ok("biometry", "cancel")
        rc, s = self.sign("unique label")
        self.assertIn(err(s)["code"], (-2, -128))

    def test_lock_and_classes(self):
        self.create("ak", acl="private-key-usage")
        self.create("ck", accessible="after-first-unlock-this-device-only", acl="private-key-usage")
        self.assertEqual(self.h.run("passcode", "set", "--passcode-stdin", stdin=b"246810\n").returncode, 0)
        self.ok("lock")
        rc, s = self.sign("ak")
        self.assertEqual(err(s)["code"], -25308)
        self.assertEqual(err(s)["remedy"], "unlock")
        self.assertEqual(self.sign("ck")[0], 0)
        self.ok("unlock", "--passcode-stdin", stdin=b"246810\n")
        self.assertEqual(self.sign("ak")[0], 0)

    def test_field_report_failure_survives_restart(self):
        k = self.create("unique label")
        self.create("current set", acl="biometry-current-set,private-key-usage")
        self.ok("biometry", "enroll", "--finger", "left-thumb")
        self.assertEqual(err(self.sign("current set")[1])["code"], -3)
        self.assertEqual(self.sign("unique label")[0], 0)
        self.ok("biometry", "reset")
        self.ok("biometry", "enroll", "--finger", "right-thumb")
        self.ok("biometry", "match")
        for _ in range(2):
            rc, s = self.sign("unique label")
            e = err(s)
            self.assertEqual((e["domain"], e["code"]), ("CryptoTokenKit", -3))
            self.assertEqual(e["description"], f"<sepk:p256 kid={k['kid']}>: unable to sign digest")
            self.assertEqual(e["user_info"]["AKSError"], -536362999)
            self.assertIs(s.get("prompted", e.get("prompted")), False)
            self.assertEqual(self.ok("key", "show", "--application-label", "unique label")["kid"], k["kid"])
            self.ok("daemon", "restart")

    def test_passcode_removal_and_lockout(self):
        self.h.run("passcode", "set", "--passcode-stdin", stdin=b"246810\n", check=True)
        self.create("akpu", accessible="when-passcode-set-this-device-only", acl="private-key-usage")
        self.h.run("passcode", "remove", "--passcode-stdin", stdin=b"246810\n", check=True)
        self.assertEqual(err(self.fails("key", "show", "--application-label", "akpu"))["code"], -25300)
        self.h.run("passcode", "set", "--passcode-stdin", stdin=b"1357\n", check=True)
        self.ok("lock")
        for _ in range(10):
            self.h.run("unlock", "--passcode-stdin", stdin=b"0000\n")
        self.ok("daemon", "restart")
        e = err(self.fails("unlock", "--passcode-stdin", stdin=b"1357\n"))
        self.assertIn("retry_after_seconds", e["user_info"])


if __name__ == "__main__":
    unittest.main()
