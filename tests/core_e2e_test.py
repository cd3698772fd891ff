"""Issue 2 end to end through the CLI and the real daemon: create, find, sign, verify with openssl,
encodings, ECIES and ECDH round trips, coded errors."""
import os
import subprocess
import unittest

from enclave_cli import BIN, HomeTest, err

SIGN = ["--algorithm", "ecdsa-signature-message-x962-sha256"]


class CoreFlow(HomeTest):
    def setUp(self):
        super().setUp()
        self.data = self.h.write("data.bin", b"challenge from the relying party\n")
        self.key = self.ok("key", "create", "--application-label", "unique label",
                           "--accessible", "when-unlocked-this-device-only", "--access-control", "private-key-usage")
        self.pem = self.h.path("pub.pem")
        self.ok("key", "export-public", "--application-label", "unique label", "--format", "spki-pem", "--out", self.pem)

    def test_cli_starts_without_the_libraries_it_opens_on_first_use(self):
        # Every command is a new process: a library linked is loaded and relocated by each one.
        # These are opened when first needed (a passcode prompt, an attestation to verify).
        dynamic = subprocess.run(["readelf", "-d", os.path.join(BIN, "enclave")], capture_output=True, text=True)
        self.assertEqual(dynamic.returncode, 0, dynamic.stderr)
        needed = [line for line in dynamic.stdout.splitlines() if "(NEEDED)" in line]
        self.assertTrue(any("libcrypto" in line for line in needed), needed)
        for lib in ("libtss2-mu", "libassuan", "libgpg-error"):
            self.assertFalse(any(lib in line for line in needed), needed)

    def test_sign_verifies_with_openssl_and_enclave_verify(self):
        sig = self.h.path("sig.der")
        s = self.ok("sign", "--application-label", "unique label", *SIGN, "--prompt", "Verify your identity",
                    "--in", self.data, "--out", sig)
        self.assertEqual(s["kid"], self.key["kid"])
        self.assertFalse(s["prompted"])
        self.assertTrue(self.openssl_verify(self.pem, sig, self.data))
        self.assertEqual(self.h.run("verify", "--public-key", self.pem, *SIGN, "--in", self.data,
                                    "--signature", sig).returncode, 0)
        other = self.h.write("other.bin", b"tampered")
        doc = self.fails("verify", "--public-key", self.pem, *SIGN, "--in", other, "--signature", sig)
        self.assertEqual(err(doc)["code"], -67808)

    def test_rfc4754_signature_verifies_after_conversion(self):
        raw = self.h.path("sig.raw")
        self.ok("sign", "--application-label", "unique label", "--algorithm", "ecdsa-signature-message-rfc4754-sha256",
                "--in", self.data, "--out", raw)
        rs = open(raw, "rb").read()
        self.assertEqual(len(rs), 64)

        def der_int(b):
            b = b.lstrip(b"\0") or b"\0"
            if b[0] & 0x80:
                b = b"\0" + b
            return b"\x02" + bytes([len(b)]) + b
        body = der_int(rs[:32]) + der_int(rs[32:])
        der = self.h.write("converted.der", b"\x30" + bytes([len(body)]) + body)
        self.assertTrue(self.openssl_verify(self.pem, der, self.data))

    def test_export_formats(self):
        for fmt in ("spki-der", "x963", "openssh"):
            out = self.h.path("pub." + fmt)
            self.ok("key", "export-public", "--kid", self.key["kid"], "--format", fmt, "--out", out)
            content = open(out, "rb").read()
            if fmt == "x963":
                self.assertEqual(content.hex(), self.key["public_key_x963"])
            if fmt == "openssh":
                self.assertTrue(content.startswith(b"ecdsa-sha2-nistp256 "))
                keygen = subprocess.run(["ssh-keygen", "-l", "-f", out], capture_output=True) \
                    if os.path.exists("/usr/bin/ssh-keygen") else None
                if keygen is not None:
                    self.assertEqual(keygen.returncode, 0, keygen.stderr)
            if fmt == "spki-der":
                pem = subprocess.run(["openssl", "pkey", "-pubin", "-inform", "DER", "-in", out], capture_output=True)
                self.assertEqual(pem.returncode, 0)
                self.assertEqual(pem.stdout.strip(), open(self.pem, "rb").read().strip())

    def test_ecies_round_trip_with_every_variant(self):
        msg = self.h.write("msg.txt", b"secret for the enclave only")
        for alg in ("ecies-encryption-cofactor-variable-iv-x963-sha256-aes-gcm",
                    "ecies-encryption-standard-variable-iv-x963-sha256-aes-gcm",
                    "ecies-encryption-standard-x963-sha256-aes-gcm",
                    "ecies-encryption-cofactor-x963-sha256-aes-gcm"):
            ct, pt = self.h.path("ct.bin"), self.h.path("pt.bin")
            self.ok("encrypt", "--public-key", self.pem, "--algorithm", alg, "--in", msg, "--out", ct)
            self.ok("decrypt", "--application-label", "unique label", "--algorithm", alg, "--in", ct, "--out", pt)
            self.assertEqual(open(pt, "rb").read(), b"secret for the enclave only")

    def test_ecdh_matches_openssl(self):
        peer_key = self.h.path("peer.pem")
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", peer_key], check=True)
        peer_pub = self.h.path("peer.pub.pem")
        subprocess.run(["openssl", "ec", "-in", peer_key, "-pubout", "-out", peer_pub], check=True, capture_output=True)
        ours = self.h.path("z.bin")
        self.ok("key-exchange", "--application-label", "unique label", "--algorithm", "ecdh-key-exchange-standard",
                "--peer-public-key", peer_pub, "--out", ours)
        theirs = self.h.path("z2.bin")
        subprocess.run(["openssl", "pkeyutl", "-derive", "-inkey", peer_key, "-peerkey", self.pem, "-out", theirs],
                       check=True)
        self.assertEqual(open(ours, "rb").read(), open(theirs, "rb").read())

    def test_coded_errors(self):
        d = self.fails("key", "create", "--application-label", "unique label", "--accessible",
                       "when-unlocked-this-device-only", "--access-control", "private-key-usage")
        self.assertEqual((err(d)["domain"], err(d)["code"]), ("OSStatus", -25299))
        d = self.fails("key", "show", "--application-label", "nobody")
        self.assertEqual(err(d)["code"], -25300)
        d = self.fails("sign", "--application-label", "unique label", "--algorithm", "no-such-algorithm",
                       "--in", self.data, "--out", self.h.path("x"))
        self.assertEqual(err(d)["code"], -50)
        d = self.fails("key", "export-private", "--application-label", "unique label")
        self.assertEqual((err(d)["domain"], err(d)["code"]), ("OSStatus", -4))
        d = self.fails("key", "create", "--application-label", "p384", "--key-size", "384")
        self.assertEqual(err(d)["code"], -50)
        self.assertIn("P-256", err(d)["description"])
        d = self.fails("key", "create", "--application-label", "rsa", "--token", "nonsense")
        self.assertEqual(err(d)["code"], -50)
        for field in ("permanence", "cause", "remedy", "description"):
            self.assertIn(field, err(d))

    def test_update_and_delete(self):
        self.ok("key", "update", "--application-label", "unique label", "--set-label", "renamed")
        self.assertEqual(self.ok("key", "show", "--kid", self.key["kid"])["label"], "renamed")
        self.ok("key", "delete", "--application-label", "unique label")
        self.assertEqual(err(self.fails("key", "show", "--kid", self.key["kid"]))["code"], -25300)


if __name__ == "__main__":
    unittest.main()
