"""Messages of any size: a 1 GiB message is signed through the daemon and verified, while no
process holds it (the CLI hashes as it reads; the daemon sees a digest)."""
import os
import subprocess
import unittest

from enclave_cli import BIN, HomeTest

GIB = 1 << 30
ALG = "ecdsa-signature-message-x962-sha256"
# A process holding the message would need over 1,024 MiB; a sanitizer build's own overhead (its
# shadow memory and quarantine) reaches about 120 MiB, hence a bound with room to spare.
PEAK_MIB = 256


def run_measured(args, env):
    """Runs a command; returns (exit status, stdout, its own peak RSS in MiB)."""
    p = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = p.stdout.read()
    p.stderr.read()
    p.stdout.close()
    p.stderr.close()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, out, usage.ru_maxrss // 1024


def daemon_peak_mib(home):
    pid = open(os.path.join(home, "enclaved.pid")).read().split()[0]
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return -1


class LargeMessages(HomeTest):
    def test_one_gib_message_signs_and_verifies_in_bounded_memory(self):
        self.ok("key", "create", "--application-label", "big", "--access-control", "private-key-usage")
        msg = self.h.path("one-gib.bin")
        with open(msg, "wb") as f:  # sparse: the disk is not filled, every byte is still read
            f.seek(GIB)
            f.write(b"the end")
        sig = self.h.path("one-gib.sig")
        rc, _, cli_mib = run_measured([os.path.join(BIN, "enclave"), "sign", "--application-label", "big",
                                       "--algorithm", ALG, "--in", msg, "--out", sig], self.h.env)
        self.assertEqual(rc, 0)
        self.assertLess(cli_mib, PEAK_MIB, "the CLI held the message")
        self.assertLess(daemon_peak_mib(self.h.dir), 128, "the daemon held the message")

        pem = self.h.path("big.pem")
        self.ok("key", "export-public", "--application-label", "big", "--format", "spki-pem", "--out", pem)
        self.assertTrue(self.openssl_verify(pem, sig, msg), "openssl does not verify the signature")
        rc, _, verify_mib = run_measured([os.path.join(BIN, "enclave"), "verify", "--public-key", pem,
                                          "--algorithm", ALG, "--in", msg, "--signature", sig], self.h.env)
        self.assertEqual(rc, 0, "enclave verify refused a good signature")
        self.assertLess(verify_mib, PEAK_MIB)
        # One byte more and the same signature no longer holds.
        with open(msg, "ab") as f:
            f.write(b"!")
        rc, _, _ = run_measured([os.path.join(BIN, "enclave"), "verify", "--public-key", pem,
                                 "--algorithm", ALG, "--in", msg, "--signature", sig], self.h.env)
        self.assertNotEqual(rc, 0)


if __name__ == "__main__":
    unittest.main()
