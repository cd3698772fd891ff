"""Security and reliability defects, end to end through the real CLI and daemon: attempts counted
durably on a full disk, the attempt policy in force at once, no descriptor kept by an autostarted
daemon, bounded input, permanent failures called permanent, idle connections that cannot lock
others out, a private diagnostics bundle, and secrets in locked memory."""
import json
import os
import select
import shutil
import socket
import stat
import subprocess
import tempfile
import unittest

from enclave_cli import BIN, Home, HomeTest, err


def is_root():
    return os.geteuid() == 0


class Mount:
    """A small tmpfs (root only), unmounted at exit."""

    def __init__(self, size="4m"):
        self.dir = tempfile.mkdtemp(prefix="enclave-e2e-fs-")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", self.dir],
                           capture_output=True)
        self.ok = r.returncode == 0

    def close(self):
        subprocess.run(["umount", "-l", self.dir], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class SecurityFlow(HomeTest):
    def mount(self, size="4m"):
        if not is_root():
            self.skipTest("mounting a tmpfs needs root")
        m = Mount(size)
        self.addCleanup(m.close)
        if not m.ok:
            self.skipTest("cannot mount a tmpfs here")
        return m

    def home_in(self, folder):
        h = Home()
        shutil.rmtree(h.dir)
        h.dir = os.path.join(folder, "home")
        h.env["ENCLAVE_HOME"] = h.dir
        self.addCleanup(h.close)
        return h

    def test_wrong_passcodes_on_a_full_disk_are_refused_not_counted_in_memory_only(self):
        m = self.mount()
        h = self.home_in(m.dir)
        self.assertEqual(h.run("passcode", "set", "--passcode-stdin", stdin=b"246810\n").returncode, 0)
        self.assertEqual(h.run("lock").returncode, 0)
        with open(os.path.join(m.dir, "filler"), "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        answered_wrong = 0
        for _ in range(5):
            rc, d = h.json("unlock", "--passcode-stdin", stdin=b"000000\n")
            self.assertNotEqual(rc, 0)
            if err(d).get("domain") == "LocalAuthentication":
                answered_wrong += 1
            else:
                self.assertEqual(err(d).get("code"), -34, d)
                self.assertEqual(err(d).get("cause"), "disk-full", d)
        self.assertEqual(answered_wrong, 0)
        os.remove(os.path.join(m.dir, "filler"))
        self.assertEqual(h.run("daemon", "restart").returncode, 0)
        rc, d = h.json("unlock", "--passcode-stdin", stdin=b"000000\n")
        self.assertEqual(err(d).get("user_info", {}).get("failed_attempts"), answered_wrong + 1, d)
        h.run("daemon", "restart", check=True)
        rc, st = h.json("status")
        self.assertEqual(st["keybag"]["failed_attempts"], answered_wrong + 1, st)

    def test_attempt_policy_applies_at_once(self):
        self.h.run("passcode", "set", "--passcode-stdin", stdin=b"246810\n", check=True)
        self.ok("config", "set", "passcode-max-attempts", "3")
        self.assertEqual(self.ok("status")["keybag"]["max_failed_attempts"], 3)

    def test_autostarted_daemon_keeps_none_of_the_callers_descriptors(self):
        read_end, write_end = os.pipe()
        p = subprocess.Popen([os.path.join(BIN, "enclave"), "key", "list", "--json"], env=self.h.env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(write_end,))
        p.wait(timeout=60)
        os.close(write_end)
        self.assertTrue(self.ok("daemon", "status")["running"])
        # Only a daemon that kept the pipe's write end could hold its end of file back.
        ready, _, _ = select.select([read_end], [], [], 30)
        self.assertTrue(ready, "the daemon holds the caller's pipe open")
        self.assertEqual(os.read(read_end, 1), b"")
        os.close(read_end)

    def test_input_over_the_request_limit_is_refused_permanently_after_a_bounded_read(self):
        self.ok("key", "create", "--application-label", "k", "--access-control", "private-key-usage")
        d = self.fails("sign", "--application-label", "k", "--algorithm", "ecdsa-signature-digest-x962",
                       "--in", "/dev/zero", timeout=60)
        self.assertEqual(err(d).get("cause"), "input-too-large", d)
        self.assertEqual(err(d).get("permanence"), "permanent", d)
        big = self.h.write("big.bin", b"m" * (5 << 20))
        self.ok("sign", "--application-label", "k", "--algorithm", "ecdsa-signature-message-x962-sha256",
                "--in", big, "--out", self.h.path("big.sig"))
        pem = self.h.path("k.pem")
        self.ok("key", "export-public", "--application-label", "k", "--format", "spki-pem", "--out", pem)
        self.assertTrue(self.openssl_verify(pem, self.h.path("big.sig"), big))

    def test_a_directory_as_input_is_a_user_error(self):
        self.ok("key", "create", "--application-label", "k", "--access-control", "private-key-usage")
        d = self.fails("sign", "--application-label", "k", "--algorithm", "ecdsa-signature-message-x962-sha256",
                       "--in", self.h.work)
        self.assertEqual(err(d).get("code"), -50, d)
        self.assertNotEqual(err(d).get("cause"), "internal", d)

    def expect_permanent(self, env, cause):
        r = subprocess.run([os.path.join(BIN, "enclave"), "key", "list", "--json"], env=env, capture_output=True,
                           timeout=60)
        d = json.loads(r.stdout.decode() or "{}")
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(err(d).get("cause"), cause, d)
        self.assertEqual(err(d).get("permanence"), "permanent", d)
        return d

    def test_setups_no_retry_can_fix_are_permanent(self):
        long_home = os.path.join(self.h.work, "x" * 120)
        self.expect_permanent(dict(self.h.env, ENCLAVE_HOME=long_home), "socket-path-too-long")
        a_file = self.h.write("not-a-folder", b"")
        self.expect_permanent(dict(self.h.env, ENCLAVE_HOME=a_file), "home-unusable")
        self.expect_permanent(dict(self.h.env, ENCLAVE_HOME=os.path.join(a_file, "home")), "home-unusable")

    def test_a_read_only_home_is_permanent_and_its_stale_socket_is_named(self):
        if not is_root():
            self.skipTest("a read-only bind mount needs root")
        self.h.run("key", "list", check=True)  # autostarts
        # The home, read-only from now on (the daemon's open files stay as they were).
        if subprocess.run(["mount", "--bind", self.h.dir, self.h.dir], capture_output=True).returncode != 0:
            self.skipTest("cannot bind-mount here")
        self.addCleanup(subprocess.run, ["umount", "-l", self.h.dir], capture_output=True)
        self.assertEqual(subprocess.run(["mount", "-o", "remount,bind,ro", self.h.dir]).returncode, 0)
        rc, d = self.h.json("daemon", "restart")
        self.assertNotEqual(rc, 0)
        self.assertIn(os.path.join(self.h.dir, "enclaved.sock"), err(d).get("description", ""), d)
        self.assertNotIn("Address already in use", err(d).get("description", ""), d)
        self.assertEqual(err(d).get("permanence"), "permanent", d)

    def test_one_process_holding_many_idle_connections_does_not_lock_others_out(self):
        self.ok("key", "list")
        path = os.path.join(self.h.dir, "enclaved.sock")
        held = []
        for _ in range(200):
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            held.append(s)
        try:
            self.ok("key", "list")
        finally:
            for s in held:
                s.close()

    def test_idle_connections_are_closed(self):
        home = tempfile.mkdtemp(prefix="encd-")
        self.addCleanup(shutil.rmtree, home, True)
        d = subprocess.Popen([os.path.join(BIN, "enclaved"), "--home", home, "--foreground", "--idle-timeout-ms", "300"],
                             stderr=subprocess.PIPE)
        self.addCleanup(d.stderr.close)
        self.addCleanup(d.wait)
        self.addCleanup(d.terminate)
        d.stderr.readline()  # "serving ..."
        s = socket.socket(socket.AF_UNIX)
        s.connect(os.path.join(home, "enclaved.sock"))
        s.settimeout(30)
        self.assertEqual(s.recv(1), b"", "an idle connection stays open")
        s.close()

    def test_diagnostics_bundle_is_private_whatever_the_umask(self):
        out = self.h.path("bundle.tar.gz")
        old = os.umask(0o022)
        try:
            self.ok("sysdiagnose", "-o", out)
        finally:
            os.umask(old)
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)

    def test_secrets_are_in_locked_memory(self):
        memory = self.ok("status")["memory"]
        self.assertTrue(memory["locked"], memory)
        self.assertGreater(memory["vm_locked_kib"], 0, memory)


if __name__ == "__main__":
    unittest.main()
