"""Issue 5 end to end through the CLI and the real daemon, on the swtpm that `make test` starts
(ENCLAVE_TEST_TPM2_TCTI): a key held by the TPM signs for openssl, and is attested."""
import os
import unittest

from enclave_cli import HomeTest, err

TCTI = os.environ.get("ENCLAVE_TEST_TPM2_TCTI")


@unittest.skipUnless(TCTI, "no TPM: run through `make test`, which starts a swtpm")
class TpmFlow(HomeTest):
    def test_tpm_key_signs_and_is_attested(self):
        self.ok("config", "set", "tpm2-tcti", TCTI)
        st = self.ok("status")
        self.assertTrue(st["tokens"]["tpm2"]["configured"])
        self.assertIn("manufacturer", st["tokens"]["tpm2"])
        self.assertEqual(st["keybag"]["device_secret_protection"], "tpm2")
        k = self.ok("key", "create", "--token", "tpm2", "--application-label", "tpm key",
                    "--access-control", "private-key-usage")
        self.assertEqual(k["token"], "tpm2")
        self.assertTrue(k["description"].startswith("<tpmk:p256 kid="))
        other = self.ok("key", "create", "--token", "tpm2", "--application-label", "other")
        data = self.h.write("d", b"tpm challenge")
        sig, pem = self.h.path("s.der"), self.h.path("p.pem")
        self.ok("sign", "--application-label", "tpm key", "--algorithm", "ecdsa-signature-message-x962-sha256",
                "--in", data, "--out", sig)
        self.ok("key", "export-public", "--application-label", "tpm key", "--format", "spki-pem", "--out", pem)
        self.assertTrue(self.openssl_verify(pem, sig, data))
        att = self.h.path("att.json")
        self.ok("key", "attest", "--application-label", "tpm key", "--out", att)
        self.assertEqual(self.h.run("verify-attestation", "--in", att, "--public-key", pem).returncode, 0)
        other_pem = self.h.path("o.pem")
        self.ok("key", "export-public", "--kid", other["kid"], "--format", "spki-pem", "--out", other_pem)
        self.assertNotEqual(self.h.run("verify-attestation", "--in", att, "--public-key", other_pem).returncode, 0)
        soft = self.ok("key", "create", "--application-label", "soft key")
        d = self.fails("key", "attest", "--kid", soft["kid"], "--out", self.h.path("x"))
        self.assertEqual(err(d)["code"], -50)


if __name__ == "__main__":
    unittest.main()
