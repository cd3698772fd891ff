"""The system daemon's systemd units: socket activation on the documented socket, the service
under its own user with no capabilities, and a hardening level systemd-analyze calls safe."""
import os
import re
import shutil
import subprocess
import unittest

UNITS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "systemd", "system")
SERVICE = os.path.join(UNITS, "enclaved-system.service")
SOCKET = os.path.join(UNITS, "enclaved-system.socket")


def unit(path):
    # systemd allows repeated keys (SystemCallFilter=); keep every value.
    values = {}
    section = None
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        values.setdefault((section, key), []).append(value)
    return values


class SystemdUnits(unittest.TestCase):
    def test_socket_is_the_documented_one_and_open_to_every_user(self):
        s = unit(SOCKET)
        self.assertEqual(s[("Socket", "ListenStream")], ["/run/enclave/enclaved.sock"])
        self.assertEqual(s[("Socket", "SocketMode")], ["0666"])

    def test_service_runs_as_its_own_user_without_privileges(self):
        s = unit(SERVICE)
        self.assertEqual(s[("Service", "User")], ["enclave"])
        self.assertIn("--system", s[("Service", "ExecStart")][0])
        self.assertEqual(s[("Service", "CapabilityBoundingSet")], [""])
        for key, value in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("PrivateTmp", "yes"),
                           ("MemoryDenyWriteExecute", "yes"), ("StateDirectory", "enclave"),
                           ("RuntimeDirectory", "enclave"), ("RestrictAddressFamilies", "AF_UNIX")]:
            self.assertEqual(s[("Service", key)], [value], key)
        self.assertIn("@system-service", s[("Service", "SystemCallFilter")])
        # A user namespace would hide the callers' real uids from SO_PEERCRED.
        self.assertNotIn(("Service", "PrivateUsers"), s)

    def test_systemd_analyze_calls_it_safe(self):
        if shutil.which("systemd-analyze") is None:
            self.skipTest("systemd-analyze is not installed")
        r = subprocess.run(["systemd-analyze", "security", "--offline=true", "--threshold=10", SERVICE],
                           capture_output=True, text=True)
        if "--offline" in r.stderr and "unrecognized" in r.stderr:
            self.skipTest("this systemd-analyze has no --offline")
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", r.stdout)
        self.assertIsNotNone(m, r.stdout[-500:] + r.stderr[-500:])
        self.assertLessEqual(float(m.group(1)), 1.0, r.stdout)
        self.assertEqual(m.group(2), "SAFE")
        self.assertEqual(r.returncode, 0, r.stdout[-1000:])


if __name__ == "__main__":
    unittest.main()
