"""The desktop session's lock follows into the keybag: logind's LockedHint (here python-dbusmock's
logind on a private system bus) locks when-unlocked keys, and unlocking the screen brings them
back when no passcode is set."""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from enclave_cli import HomeTest, err

PYTHON = "/usr/bin/python3"  # Debian's python, which has dbusmock
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path={sock}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_type="method_call"/>
<allow send_destination="*"/><allow receive_sender="*"/></policy></busconfig>"""


def have_tools():
    return (shutil.which("dbus-daemon") and shutil.which("gdbus") and
            subprocess.run([PYTHON, "-c", "import dbusmock"], capture_output=True).returncode == 0)


@unittest.skipUnless(have_tools(), "needs dbus-daemon, gdbus and python3-dbusmock")
class SessionLock(HomeTest):
    def setUp(self):
        self.bus_dir = tempfile.mkdtemp(prefix="enclave-bus-")
        sock = os.path.join(self.bus_dir, "system_bus_socket")
        conf = os.path.join(self.bus_dir, "bus.conf")
        with open(conf, "w") as f:
            f.write(BUS_CONFIG.format(sock=sock))
        self.procs = [subprocess.Popen(["dbus-daemon", "--config-file", conf, "--nofork", "--nopidfile"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        self.address = "unix:path=" + sock
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = self.address
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        self.procs.append(subprocess.Popen([PYTHON, "-m", "dbusmock", "--system", "--template", "logind"],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self.gdbus("/org/freedesktop/login1", "org.freedesktop.DBus.Mock.AddSession", "c1", "seat0",
                   str(os.getuid()), "user", "true", retry=True)
        super().setUp()  # the enclave home; its daemon inherits the private bus address

    def tearDown(self):
        os.environ.pop("DBUS_SYSTEM_BUS_ADDRESS", None)
        for p in reversed(self.procs):
            p.terminate()
            p.wait()
        shutil.rmtree(self.bus_dir, ignore_errors=True)

    def gdbus(self, path, method, *args, retry=False):
        for _ in range(100 if retry else 1):
            r = subprocess.run(["gdbus", "call", "--system", "-d", "org.freedesktop.login1", "-o", path,
                                "-m", method, *args], capture_output=True, env=dict(os.environ))
            if r.returncode == 0:
                return r
            time.sleep(0.05)
        self.fail(f"gdbus {method}: {r.stderr!r}")

    def sign_code(self):
        rc, s = self.h.json("sign", "--application-label", "ak", "--algorithm", "ecdsa-signature-message-x962-sha256",
                            "--in", self.data, "--out", self.h.path("s"))
        return 0 if rc == 0 else err(s).get("code")

    def wait_for(self, code):
        for _ in range(50):
            if self.sign_code() == code:
                return True
            time.sleep(0.1)
        return False

    def test_screen_lock_locks_when_unlocked_keys(self):
        self.ok("config", "set", "logind-session", "c1")
        self.ok("daemon", "restart")
        self.data = self.h.write("d", b"x")
        self.ok("key", "create", "--application-label", "ak", "--accessible", "when-unlocked-this-device-only")
        self.assertEqual(self.sign_code(), 0)
        self.gdbus("/org/freedesktop/login1/session/c1", "org.freedesktop.login1.Session.SetLockedHint", "true")
        self.assertTrue(self.wait_for(-25308), "the screen lock did not lock the key")
        status = self.ok("status")
        self.assertIs(status["session_lock"]["locked_hint"], True)
        self.gdbus("/org/freedesktop/login1/session/c1", "org.freedesktop.login1.Session.SetLockedHint", "false")
        self.assertTrue(self.wait_for(0), "unlocking the screen (no passcode) did not unlock the key")


if __name__ == "__main__":
    unittest.main()
