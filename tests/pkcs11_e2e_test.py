"""Issue 8, PKCS#11 half, end to end: the module build/lib/libenclave-pkcs11.so driven by the real clients
(pkcs11-tool, openssl with the pkcs11 engine, ssh-keygen -D, ssh -I to a loopback sshd) against the real daemon.
Output lines are checked, not only exit codes: pkcs11-tool exits 0 on several errors."""
import concurrent.futures
import hashlib
import json
import os
import subprocess
import unittest

from enclave_cli import BIN, HomeTest
from sshd_harness import LoopbackSshd

MODULE = os.path.abspath(os.path.join(BIN, "..", "lib", "libenclave-pkcs11.so"))
ENGINE = "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so"
PIN = "246810"


class Pkcs11Clients(HomeTest):
    def setUp(self):
        super().setUp()
        self.assertTrue(os.path.exists(MODULE), MODULE)
        self.data = self.h.write("data.bin", b"challenge from the relying party 0123456789")
        self.digest = self.h.write("data.sha256", hashlib.sha256(open(self.data, "rb").read()).digest())

    def tool(self, *args, login=True, timeout=120):
        cmd = ["pkcs11-tool", "--module", MODULE, "--token-label", "enclave"]
        if login:
            cmd += ["--login", "--pin", PIN]
        r = subprocess.run(cmd + list(args), env=self.h.env, capture_output=True, timeout=timeout)
        return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")

    def run_ok(self, *cmd, env=None, stdin=None):
        r = subprocess.run(list(cmd), env=env or self.h.env, input=stdin, capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, f"{cmd}: {r.stdout[-400:]!r} {r.stderr[-400:]!r}")
        return r.stdout.decode(errors="replace")

    def with_passcode(self):
        self.ok("passcode", "set", "--passcode-stdin", stdin=(PIN + "\n").encode())

    def keypair(self, key_id="01", label="p11key"):
        rc, out, err = self.tool("--keypairgen", "--key-type", "EC:prime256v1", "--id", key_id, "--label", label)
        self.assertIn("never extractable", out, out + err)
        self.assertIn("EC_POINT", out)
        pub_der, pub_pem = self.h.path(f"pub{key_id}.der"), self.h.path(f"pub{key_id}.pem")
        rc, out, err = self.tool("--read-object", "--type", "pubkey", "--id", key_id, "-o", pub_der, login=False)
        self.run_ok("openssl", "pkey", "-pubin", "-inform", "DER", "-in", pub_der, "-out", pub_pem)
        return pub_pem

    def openssl_verifies(self, pem, der_sig):
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pem, "-signature", der_sig, self.data],
                           capture_output=True)
        return b"Verified OK" in r.stdout

    def test_pkcs11_tool_lists_generates_signs_derives_and_self_tests(self):
        self.with_passcode()
        rc, out, err = self.tool("-L", login=False)
        self.assertIn("token label        : enclave", out, out + err)
        self.assertIn("login required", out)
        pem = self.keypair()
        rs, der = self.h.path("sig.rs"), self.h.path("sig.der")
        rc, out, err = self.tool("--sign", "-m", "ECDSA", "--id", "01", "-i", self.digest, "-o", rs)
        self.assertEqual(os.path.getsize(rs), 64, err)
        rc, out, err = self.tool("--sign", "-m", "ECDSA", "--id", "01", "-i", self.digest, "-o", der,
                                 "--signature-format", "openssl")
        self.assertTrue(self.openssl_verifies(pem, der), err)
        rc, out, err = self.tool("--verify", "-m", "ECDSA", "--id", "01", "-i", self.digest, "--signature-file", rs,
                                 login=False)
        self.assertIn("Signature is valid", out + err)
        # A wrong PIN is refused and counted.
        r = subprocess.run(["pkcs11-tool", "--module", MODULE, "--login", "--pin", "000000", "--sign", "-m", "ECDSA",
                            "--id", "01", "-i", self.digest, "-o", rs], env=self.h.env, capture_output=True)
        self.assertIn(b"CKR_PIN_INCORRECT", r.stdout + r.stderr)
        self.assertEqual(self.ok("status")["keybag"]["failed_attempts"], 1)

        rc, out, err = self.tool("--test", timeout=300)
        self.assertEqual((out + err).strip().splitlines()[-1].strip(), "No errors", out + err)
        rc, out, err = self.tool("--session-rw", "--test-ec", "--id", "02", "--key-type", "EC:prime256v1",
                                 timeout=300)
        self.assertIn("==> OK", out, out + err)

        peer = self.h.path("peer.pem")
        peer_der = self.h.path("peer_pub.der")
        self.run_ok("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", peer)
        self.run_ok("openssl", "pkey", "-in", peer, "-pubout", "-outform", "DER", "-out", peer_der)
        z1, z2 = self.h.path("z.bin"), self.h.path("z2.bin")
        rc, out, err = self.tool("--derive", "-m", "ECDH1-DERIVE", "--id", "01", "-i", peer_der, "-o", z1)
        self.run_ok("openssl", "pkeyutl", "-derive", "-inkey", peer, "-peerkey", pem, "-out", z2)
        self.assertEqual(len(open(z1, "rb").read()), 32, err)
        self.assertEqual(open(z1, "rb").read(), open(z2, "rb").read())

    def test_openssl_engine_signs_with_the_key_show_uri_and_ssh_keygen_lists_the_key(self):
        self.ok("key", "create", "--label", "cli key", "--application-label", "cli app label")
        show = self.ok("key", "show", "--label", "cli key")
        uri = show["pkcs11_uri"]
        self.assertEqual(uri, "pkcs11:token=enclave;id=" + "".join("%%%02X" % b for b in b"cli app label")
                         + ";object=cli%20key;type=private")
        pem = self.h.path("cli.pem")
        self.ok("key", "export-public", "--label", "cli key", "--format", "spki-pem", "--out", pem)
        conf = self.h.write("openssl.cnf", f"""openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = {ENGINE}
MODULE_PATH = {MODULE}
init = 0
""".encode())
        sig = self.h.path("sig.eng")
        self.run_ok("openssl", "pkeyutl", "-engine", "pkcs11", "-keyform", "engine", "-sign", "-inkey", uri,
                    "-in", self.digest, "-out", sig, env=dict(self.h.env, OPENSSL_CONF=conf))
        out = self.run_ok("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pem, "-in", self.digest,
                          "-sigfile", sig)
        self.assertIn("Signature Verified Successfully", out)

        out = self.run_ok("ssh-keygen", "-D", MODULE)
        lines = [l for l in out.splitlines() if l.startswith("ecdsa-sha2-nistp256 AAAAE2Vj")]
        self.assertEqual(len(lines), 1, out)
        self.assertTrue(lines[0].endswith(" cli key"), out)
        openssh = self.h.path("cli.pub")
        self.ok("key", "export-public", "--label", "cli key", "--format", "openssh", "--out", openssh)
        self.assertEqual(lines[0].split()[1], open(openssh).read().split()[1])

    def test_parallel_signers_and_a_stable_token_across_restarts(self):
        pem = self.keypair("07", "parallel")

        def sign(i):
            out = self.h.path(f"par{i}.der")
            rc, o, e = self.tool("--sign", "-m", "ECDSA", "--id", "07", "-i", self.digest, "-o", out,
                                 "--signature-format", "openssl")
            return self.openssl_verifies(pem, out)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            self.assertEqual(list(pool.map(sign, range(8))), [True] * 8)

        def token_lines():
            rc, out, err = self.tool("-L", login=False)
            return [l for l in out.splitlines() if "token label" in l or "serial num" in l]
        before = token_lines()
        self.assertEqual(len(before), 2, before)
        self.ok("daemon", "stop")
        self.assertEqual(token_lines(), before)

    def test_field_report_key_through_pkcs11(self):
        self.with_passcode()
        self.simulator()
        self.ok("key", "create", "--application-label", "unique label", "--accessible",
                "when-unlocked-this-device-only", "--access-control", "biometry-any,private-key-usage")
        label_hex = b"unique label".hex()
        before = self.ok("biometry", "match")
        rs = self.h.path("bio.rs")
        rc, out, err = self.tool("--sign", "-m", "ECDSA", "--id", label_hex, "-i", self.digest, "-o", rs)
        after = self.ok("biometry", "status")["simulator"]
        self.assertEqual(os.path.getsize(rs), 64, out + err)
        self.assertEqual(after["prompts"], before["prompts"] + 1)
        self.assertRegex(after["last_prompt"], r"^pkcs11-tool \(pid \d+\) wants to sign with “unique label”$")

        self.ok("biometry", "reset")
        self.ok("biometry", "enroll", "--finger", "right-thumb")
        for _ in range(3):
            before = self.ok("biometry", "match")
            os.path.exists(rs) and os.remove(rs)
            rc, out, err = self.tool("--sign", "-m", "ECDSA", "--id", label_hex, "-i", self.digest, "-o", rs)
            self.assertIn("CKR_KEY_FUNCTION_NOT_PERMITTED", out + err)
            self.assertFalse(os.path.exists(rs) and os.path.getsize(rs) > 0)
            self.assertEqual(self.ok("biometry", "status")["simulator"]["prompts"], before["prompts"])
        self.assertIn("biometry-database-reset", json.dumps(self.ok("events")))

    def test_ssh_login_with_the_module(self):
        why = LoopbackSshd.available()
        if why:
            self.skipTest(why)
        self.with_passcode()
        self.keypair("0a", "sshkey")
        keys = self.run_ok("ssh-keygen", "-D", MODULE)
        self.assertIn("ecdsa-sha2-nistp256 AAAAE2Vj", keys)
        askpass = self.h.write("askpass.sh", f"#!/bin/sh\necho {PIN}\n".encode())
        os.chmod(askpass, 0o700)
        env = dict(self.h.env, SSH_ASKPASS=askpass, SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
        env.pop("SSH_AUTH_SOCK", None)
        with LoopbackSshd(authorized_keys=keys) as sshd:
            rc, out, err = sshd.ssh(["echo", "remote-ok-pkcs11"], env=env,
                                    extra=["-I", MODULE, "-o", "PasswordAuthentication=no"])
            self.assertEqual(rc, 0, err + sshd.log())
            self.assertIn("remote-ok-pkcs11", out)
            self.assertIn("Accepted publickey", sshd.log())


if __name__ == "__main__":
    unittest.main()
