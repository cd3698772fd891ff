"""System mode for real: enclaved --system started as root drops to a throwaway daemon user;
two throwaway client users each reach only their own enclave through the shared socket. Needs
root (to create users and start the daemon as root); skipped otherwise."""
import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
import unittest

from enclave_cli import BIN, err


def have(tool):
    return shutil.which(tool) is not None


class SystemMode(unittest.TestCase):
    users = []

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("system mode tests create users and start the daemon as root")
        for tool in ("useradd", "userdel", "setpriv"):
            if not have(tool):
                raise unittest.SkipTest(f"{tool} is not installed")
        suffix = secrets.token_hex(3)
        cls.daemon_user, cls.a, cls.b = (f"encsd{suffix}", f"encsa{suffix}", f"encsb{suffix}")
        for u in (cls.daemon_user, cls.a, cls.b):
            r = subprocess.run(["useradd", "-M", "-r", "-s", "/usr/sbin/nologin", u], capture_output=True)
            if r.returncode != 0:
                cls.tearDownClass()
                raise unittest.SkipTest(f"useradd {u}: {r.stderr.decode()}")
            cls.users.append(u)
        cls.root = tempfile.mkdtemp(prefix="enclave-sys-")
        os.chmod(cls.root, 0o755)
        # The CLI where every user can run it, whatever the checkout's folder modes.
        cls.cli = os.path.join(cls.root, "enclave")
        shutil.copy(os.path.join(BIN, "enclave"), cls.cli)
        os.chmod(cls.cli, 0o755)
        cls.state = os.path.join(cls.root, "state", "enclave")
        cls.sock = os.path.join(cls.root, "run", "enclaved.sock")
        cls.work = os.path.join(cls.root, "work")
        os.makedirs(cls.work)
        os.chmod(cls.work, 0o777)
        cls.daemon = None

    @classmethod
    def tearDownClass(cls):
        cls.stop_daemon()
        for u in cls.users:
            subprocess.run(["userdel", u], capture_output=True)
        cls.users = []
        if getattr(cls, "root", None):
            shutil.rmtree(cls.root, ignore_errors=True)

    @classmethod
    def start_daemon(cls):
        cls.daemon = subprocess.Popen(
            [os.path.join(BIN, "enclaved"), "--system", "--state-dir", cls.state, "--socket", cls.sock,
             "--user", cls.daemon_user], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        line = cls.daemon.stderr.readline().decode()
        if "serving" not in line:
            raise AssertionError(f"the system daemon did not start: {line} {cls.daemon.stderr.read().decode()}")

    @classmethod
    def stop_daemon(cls, sig=signal.SIGTERM):
        if cls.daemon is not None:
            cls.daemon.send_signal(sig)
            cls.daemon.wait(timeout=30)
            cls.daemon = None

    def setUp(self):
        if self.daemon is None:
            self.start_daemon()

    def as_user(self, user, *args, stdin=None):
        env = {"PATH": "/usr/bin:/bin", "ENCLAVE_MODE": "system", "ENCLAVE_SYSTEM_SOCKET": self.sock,
               "HOME": self.work}
        r = subprocess.run(["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", self.cli, *args,
                            "--json"], env=env, input=stdin, capture_output=True, timeout=60)
        try:
            return r.returncode, json.loads(r.stdout.decode() or "{}")
        except json.JSONDecodeError:
            return r.returncode, {"unparsed": r.stdout.decode(), "stderr": r.stderr.decode()}

    def ok(self, user, *args, **kw):
        rc, d = self.as_user(user, *args, **kw)
        self.assertEqual(rc, 0, f"{user}: enclave {' '.join(args)}: {d}")
        return d

    def create(self, user, label):
        return self.ok(user, "key", "create", "--application-label", label, "--access-control",
                       "private-key-usage")

    def sign(self, user, label, out):
        msg = os.path.join(self.work, "m.bin")
        with open(msg, "wb") as f:
            f.write(b"challenge")
        os.chmod(msg, 0o644)
        return self.as_user(user, "sign", "--application-label", label, "--algorithm",
                            "ecdsa-signature-message-x962-sha256", "--in", msg, "--out", os.path.join(self.work, out))

    def test_daemon_runs_as_its_user_with_a_private_state_and_an_open_socket(self):
        with open(f"/proc/{self.daemon.pid}/status") as f:
            ids = {l.split(":")[0]: l.split()[1:] for l in f if l.startswith(("Uid", "Gid", "Groups", "CapEff"))}
        uid = pwd.getpwnam(self.daemon_user).pw_uid
        self.assertEqual(ids["Uid"], [str(uid)] * 4)
        self.assertEqual(ids["CapEff"], ["0000000000000000"])
        self.assertEqual(ids.get("Groups", []), [])
        st = os.stat(self.state)
        self.assertEqual(st.st_uid, uid)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(self.sock).st_mode), 0o666)

    def test_each_user_reaches_only_its_own_keys(self):
        ka = self.create(self.a, "iso-a")
        kb = self.create(self.b, "iso-b")
        la = json.dumps(self.ok(self.a, "key", "list"))
        lb = json.dumps(self.ok(self.b, "key", "list"))
        self.assertIn(ka["kid"], la)
        self.assertNotIn(kb["kid"], la)
        self.assertNotIn("iso-b", la)
        self.assertIn(kb["kid"], lb)
        self.assertNotIn(ka["kid"], lb)
        for user, other in ((self.b, "iso-a"), (self.a, "iso-b")):
            rc, d = self.sign(user, other, f"{user}-{other}.der")
            self.assertNotEqual(rc, 0)
            self.assertEqual(err(d).get("code"), -25300, d)
            rc, d = self.as_user(user, "key", "show", "--application-label", other)
            self.assertEqual(err(d).get("code"), -25300, d)
            rc, d = self.as_user(user, "key", "delete", "--application-label", other)
            self.assertNotEqual(rc, 0, d)
        # Nothing was deleted across users, and each still signs its own.
        self.assertEqual(self.sign(self.a, "iso-a", "a.der")[0], 0)
        self.assertEqual(self.sign(self.b, "iso-b", "b.der")[0], 0)

    def test_passcode_and_lock_state_are_per_user(self):
        self.create(self.a, "pc-a")
        self.create(self.b, "pc-b")
        self.ok(self.a, "passcode", "set", "--passcode-stdin", stdin=b"135790\n")
        self.ok(self.a, "lock")
        self.assertTrue(self.ok(self.a, "status")["keybag"]["passcode_set"])
        st = self.ok(self.b, "status")
        self.assertFalse(st["keybag"]["passcode_set"], st)
        self.assertFalse(st["keybag"]["locked"], st)
        self.assertEqual(self.sign(self.b, "pc-b", "pcb.der")[0], 0)
        # Configuration, biometry included, is per uid too.
        self.ok(self.b, "config", "set", "biometry", "simulator")
        self.ok(self.b, "biometry", "enroll", "--finger", "right-thumb")
        self.assertEqual(self.ok(self.b, "status")["biometry"]["provider"], "simulator")
        self.assertEqual(self.ok(self.a, "status")["biometry"]["provider"], "none")
        # A's own passcode unlocks A again (the other cases share the users).
        self.ok(self.a, "unlock", "--passcode-stdin", stdin=b"135790\n")
        self.assertEqual(self.sign(self.a, "pc-a", "pca.der")[0], 0)

    def test_no_state_file_is_readable_by_a_client_user(self):
        self.create(self.a, "files-a")
        files = [f for f in glob.glob(self.state + "/**", recursive=True) if os.path.isfile(f)]
        self.assertTrue(any(f.endswith("keychain.db") for f in files), files)
        for user in (self.a, self.b):
            for f in files:
                r = subprocess.run(["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", "cat", f],
                                   capture_output=True)
                self.assertNotEqual(r.returncode, 0, f"{user} can read {f}")

    def test_sigkill_loses_no_acknowledged_key(self):
        kids = [self.create(self.a, f"kill-{i}")["kid"] for i in range(5)]
        self.stop_daemon(signal.SIGKILL)
        self.start_daemon()
        listed = json.dumps(self.ok(self.a, "key", "list"))
        for i, kid in enumerate(kids):
            self.assertIn(kid, listed)
            self.assertEqual(self.sign(self.a, f"kill-{i}", f"kill-{i}.der")[0], 0)

    def test_a_second_system_daemon_refuses_and_leaves_the_first_serving(self):
        self.create(self.a, "second-a")
        second = subprocess.run(
            [os.path.join(BIN, "enclaved"), "--system", "--state-dir", self.state, "--socket", self.sock,
             "--user", self.daemon_user], capture_output=True, timeout=30)
        self.assertEqual(second.returncode, 3, second.stderr)
        self.assertEqual(self.sign(self.a, "second-a", "second-a.der")[0], 0)
        self.assertEqual(self.ok(self.b, "key", "list")["keys"], [])

    def test_restart_under_load_from_several_users(self):
        """Two users sign in a loop while the system daemon is stopped and started twice: each
        signature succeeds or fails as daemon-unavailable (clients never start a system daemon),
        nothing else; afterwards both users' keys are all there and sign."""
        for u in (self.a, self.b):
            self.create(u, f"load-{u}")
        stop = threading.Event()
        outcomes = {self.a: [], self.b: []}

        def loop(user):
            while not stop.is_set():
                rc, d = self.sign(user, f"load-{user}", f"load-{user}.der")
                outcomes[user].append("ok" if rc == 0 else err(d).get("cause", str(d)[:200]))

        threads = [threading.Thread(target=loop, args=(u,)) for u in (self.a, self.b)]
        for t in threads:
            t.start()
        try:
            for _ in range(2):
                time.sleep(0.5)
                self.stop_daemon()
                time.sleep(0.2)
                self.start_daemon()
            time.sleep(0.5)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=120)
        for user, seen in outcomes.items():
            self.assertIn("ok", seen, user)
            self.assertEqual({o for o in seen if o != "ok"} - {"daemon-unavailable"}, set(), f"{user}: {seen}")
            self.assertEqual(self.sign(user, f"load-{user}", f"after-{user}.der")[0], 0)
            self.assertEqual(len(self.ok(user, "key", "list", "--application-label", f"load-{user}")["keys"]), 1)

    def test_signature_verifies(self):
        self.create(self.a, "verify-a")
        rc, s = self.sign(self.a, "verify-a", "v.der")
        self.assertEqual(rc, 0, s)
        pem = os.path.join(self.work, "v.pem")
        self.ok(self.a, "key", "export-public", "--application-label", "verify-a", "--format", "spki-pem",
                "--out", pem)
        v = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pem, "-signature", os.path.join(self.work, "v.der"),
                            os.path.join(self.work, "m.bin")], capture_output=True)
        self.assertIn(b"Verified OK", v.stdout)


if __name__ == "__main__":
    unittest.main()
