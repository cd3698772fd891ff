"""Issue 11: what `make install` and `make deb` put on a machine, used only from the installed tree:
the man pages render, the completion registers, the installed enclave starts the installed enclaved,
systemd socket activation serves a request, and the unpacked .deb runs the field report's flow."""
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

BUILD = os.environ["ENCLAVE_BUILD_DIR"]
SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SIGN = ["--algorithm", "ecdsa-signature-message-x962-sha256"]


def run(cmd, env=None, timeout=120, **kw):
    return subprocess.run(cmd, env=env, capture_output=True, timeout=timeout, **kw)


class InstalledTree(unittest.TestCase):
    """A throwaway DESTDIR tree (cmake --install --prefix /usr) and a throwaway enclave home."""

    root = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="enclave-install-")
        cls.root = os.path.join(cls.tmp, "root")
        r = run(["cmake", "--install", BUILD, "--prefix", "/usr"], env=dict(os.environ, DESTDIR=cls.root), timeout=300)
        if r.returncode != 0:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise AssertionError(f"cmake --install failed: {r.stdout[-800:]!r} {r.stderr[-800:]!r}")
        cls.enclave = os.path.join(cls.root, "usr", "bin", "enclave")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="enclave-install-home-")
        # Nothing from the build tree: not on PATH, no $ENCLAVED.
        path = ":".join(p for p in os.environ.get("PATH", "").split(":") if p and not p.startswith(BUILD))
        self.env = {k: v for k, v in os.environ.items() if k != "ENCLAVED"}
        self.env.update(ENCLAVE_HOME=self.home, PATH=path)
        self.addCleanup(self.stop_daemon)

    def stop_daemon(self):
        run([self.enclave, "daemon", "stop"], env=self.env, timeout=60)
        shutil.rmtree(self.home, ignore_errors=True)

    def installed(self, pattern):
        found = glob.glob(os.path.join(self.root, pattern))
        self.assertTrue(found, f"not installed: {pattern}")
        return found[0]

    def cli(self, *args, env=None, ok=True):
        r = run([self.enclave, *args, "--json"], env=env or self.env)
        doc = json.loads(r.stdout.decode() or "{}")
        if ok:
            self.assertEqual(r.returncode, 0, f"enclave {' '.join(args)}: {doc} {r.stderr[-300:]!r}")
        return doc

    def test_man_pages_render(self):
        for page, words in (("usr/share/man/man1/enclave.1", ["key create", "--application-label", "ENCLAVE_HOME"]),
                            ("usr/share/man/man8/enclaved.8", ["--foreground", "systemd"])):
            r = run(["man", "-l", self.installed(page)], env=dict(os.environ, MANPAGER="cat", PAGER="cat",
                                                                  MANWIDTH="100"))
            self.assertEqual(r.returncode, 0, r.stderr)
            text = r.stdout.decode()
            for section in ("NAME", "SYNOPSIS", "OPTIONS"):
                self.assertIn(section, text)
            # man renders \- as a hyphen-minus only when escaped right; the options must read as typed.
            for w in words:
                self.assertIn(w, text.replace("\u2010", "-").replace("\u2212", "-"))
            self.assertNotIn("__generate", text)

    def test_bash_completion_registers_and_completes(self):
        comp = self.installed("usr/share/bash-completion/completions/enclave")
        r = run(["bash", "-c", f"source {comp} && complete -p enclave"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("_enclave", r.stdout.decode())
        words = ("COMP_WORDS=(enclave key cr); COMP_CWORD=2; _enclave; echo ${COMPREPLY[@]};"
                 "COMP_WORDS=(enclave key create --application-l); COMP_CWORD=3; _enclave; echo ${COMPREPLY[@]}")
        r = run(["bash", "-c", f"source {comp} && {words}"])
        lines = r.stdout.decode().splitlines()
        self.assertEqual(lines, ["create", "--application-label --application-label-hex"], r.stderr)

    def test_units_name_the_installed_daemon(self):
        service = open(self.installed("usr/lib/systemd/user/enclaved.service")).read()
        self.assertIn("ExecStart=/usr/libexec/enclaved --foreground", service)
        self.assertIn("ListenStream=", open(self.installed("usr/lib/systemd/user/enclaved.socket")).read())

    def test_version_names_the_revision(self):
        for exe in (self.enclave, self.installed("usr/libexec/enclaved")):
            r = run([exe, "--version"])
            self.assertEqual(r.returncode, 0, r.stderr)
            out = r.stdout.decode()
            self.assertRegex(out, r"^enclaved? \d+\.\d+\.\d+ \(git [0-9a-z.\-]+\)\n$")

    def test_installed_enclave_starts_the_installed_daemon(self):
        self.cli("key", "create", "--application-label", "installed", "--access-control", "private-key-usage")
        status = self.cli("daemon", "status")
        self.assertTrue(status["running"])
        exe = os.readlink(f"/proc/{status['pid']}/exe")
        self.assertEqual(exe, os.path.join(self.root, "usr", "libexec", "enclaved"))

    def test_socket_activation_serves_a_request(self):
        daemon = self.installed("usr/libexec/enclaved")
        sock = os.path.join(self.home, "enclaved.sock")
        act = subprocess.Popen(["systemd-socket-activate", "-l", sock, "-E", "ENCLAVE_HOME", daemon],
                               env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(lambda: (act.poll() is None and act.kill(), act.wait(), act.stderr.close()))
        # The socket exists once systemd-socket-activate listens; connecting before that fails.
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        # Autostart is disabled: only the activated daemon can answer.
        no_autostart = dict(self.env, ENCLAVED="/nonexistent/enclaved", PATH="/nonexistent")
        doc = self.cli("key", "list", env=no_autostart)
        self.assertIn("keys", doc)
        # systemd-socket-activate execs the daemon, so the daemon answering is that very process.
        self.assertEqual(self.cli("daemon", "status", env=no_autostart)["pid"], act.pid)
        act.send_signal(signal.SIGTERM)
        self.assertEqual(act.wait(timeout=30), 0)
        # The socket file is systemd's: the daemon leaves it in place.
        self.assertTrue(os.path.exists(sock))
        s = socket.socket(socket.AF_UNIX)
        self.assertNotEqual(s.connect_ex(sock), 0)
        s.close()


class DebianPackage(unittest.TestCase):
    """cpack -G DEB into a temporary directory, then the package's contents, unpacked."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="enclave-deb-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.home = os.path.join(self.tmp, "home")
        os.mkdir(self.home, 0o700)

    def test_deb_depends_and_field_flow(self):
        r = run(["cpack", "-G", "DEB", "--config", os.path.join(BUILD, "CPackConfig.cmake"), "-B",
                 os.path.join(self.tmp, "out")], cwd=self.tmp, timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout[-800:] + r.stderr[-800:])
        debs = glob.glob(os.path.join(self.tmp, "out", "*.deb"))
        self.assertEqual(len(debs), 1, r.stdout[-800:])
        info = run(["dpkg-deb", "-f", debs[0], "Depends"]).stdout.decode()
        # Computed by dpkg-shlibdeps from what the binaries link.
        for lib in ("libssl3", "libsqlite3-0", "libtss2-esys", "libprotobuf-lite32", "libsystemd0"):
            self.assertIn(lib, info)
        # Opened with dlopen on first use (a passcode prompt, an attestation verified by the CLI),
        # so declared by hand.
        for lib in ("libassuan0", "libgpg-error0", "libtss2-mu0"):
            self.assertIn(lib, info)
        x = os.path.join(self.tmp, "x")
        self.assertEqual(run(["dpkg-deb", "-x", debs[0], x]).returncode, 0)
        enclave = os.path.join(x, "usr", "bin", "enclave")
        self.assertTrue(os.path.exists(os.path.join(x, "usr", "libexec", "enclaved")))
        self.assertTrue(os.path.exists(os.path.join(x, "usr", "share", "man", "man1", "enclave.1")))
        env = {k: v for k, v in os.environ.items() if k != "ENCLAVED"}
        env.update(ENCLAVE_HOME=self.home, PATH="/usr/bin:/bin")
        self.addCleanup(lambda: run([enclave, "daemon", "stop"], env=env, timeout=60))
        v = run([enclave, "--version"], env=env)
        self.assertEqual(v.returncode, 0, v.stderr)
        self.assertIn("(git ", v.stdout.decode())

        def ok(*args):
            r = run([enclave, *args, "--json"], env=env)
            self.assertEqual(r.returncode, 0, f"enclave {' '.join(args)}: {r.stdout[-400:]!r} {r.stderr[-300:]!r}")
            return json.loads(r.stdout.decode() or "{}")

        # The field report's flow: a biometry-bound key found by its application label signs.
        ok("config", "set", "biometry", "simulator")
        ok("biometry", "enroll", "--finger", "right-thumb")
        key = ok("key", "create", "--application-label", "unique label", "--accessible",
                 "when-unlocked-this-device-only", "--access-control", "biometry-any,private-key-usage")
        data = os.path.join(self.tmp, "data.bin")
        open(data, "wb").write(b"challenge from the relying party\n")
        pem, sig = os.path.join(self.tmp, "pub.pem"), os.path.join(self.tmp, "sig.der")
        ok("key", "export-public", "--application-label", "unique label", "--format", "spki-pem", "--out", pem)
        ok("biometry", "match")
        s = ok("sign", "--application-label", "unique label", *SIGN, "--prompt", "Verify your identity",
               "--in", data, "--out", sig)
        self.assertEqual(s["kid"], key["kid"])
        self.assertTrue(s["prompted"])
        v = run(["openssl", "dgst", "-sha256", "-verify", pem, "-signature", sig, data])
        self.assertIn(b"Verified OK", v.stdout)
        # The unpacked daemon served it, not one from the build tree.
        pid = ok("daemon", "status")["pid"]
        self.assertEqual(os.readlink(f"/proc/{pid}/exe"), os.path.join(x, "usr", "libexec", "enclaved"))


if __name__ == "__main__":
    unittest.main()
