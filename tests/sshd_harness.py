"""A real OpenSSH server on 127.0.0.1 for the front-end tests (ssh through the agent, ssh -I with the
PKCS#11 module, agent forwarding).

    with LoopbackSshd(authorized_keys="ecdsa-sha2-nistp256 AAAA... comment\n") as sshd:
        rc, out, err = sshd.ssh(["echo", "ok"], env=env, extra=["-o", "BatchMode=yes"])

The server runs in the foreground (-D -e) from a temporary folder: its own host key, config, authorized-keys
file and log; it logs in the user running the tests (root in CI). Nothing outside the folder is touched but
/run/sshd, which sshd insists on for privilege separation.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time

SSHD = "/usr/sbin/sshd"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackSshd:
    def __init__(self, authorized_keys="", workdir=None):
        self.dir = workdir or tempfile.mkdtemp(prefix="enclave-sshd-")
        self._own_dir = workdir is None
        self.port = free_port()
        self.user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
        self.authorized_keys = os.path.join(self.dir, "authorized_keys")
        self.log_path = os.path.join(self.dir, "sshd.log")
        self.proc = None
        self.set_authorized_keys(authorized_keys)

    @staticmethod
    def available():
        """None when a loopback sshd can run here, else the reason it cannot."""
        if not os.path.exists(SSHD):
            return "openssh-server is not installed (scripts/setup installs it)"
        if os.geteuid() != 0:
            return "sshd needs root for privilege separation"
        return None

    def set_authorized_keys(self, text):
        with open(self.authorized_keys, "w") as f:
            f.write(text)
        os.chmod(self.authorized_keys, 0o600)

    def add_authorized_key(self, line):
        with open(self.authorized_keys, "a") as f:
            f.write(line.rstrip("\n") + "\n")

    def start(self):
        hostkey = os.path.join(self.dir, "hostkey")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostkey], check=True)
        config = os.path.join(self.dir, "sshd_config")
        # SHLVL=1: bash runs a command from sshd without the login user's ~/.bashrc (it reads it
        # for ssh only at shell level 1), so a login costs ssh and the agent, not whatever that
        # file starts (a version manager's init takes most of a second on some machines).
        with open(config, "w") as f:
            f.write(f"""ListenAddress 127.0.0.1
Port {self.port}
HostKey {hostkey}
AuthorizedKeysFile {self.authorized_keys}
PidFile {self.dir}/sshd.pid
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AllowAgentForwarding yes
PermitRootLogin yes
MaxStartups 100:30:200
SetEnv SHLVL=1
""")
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", config], stdout=subprocess.DEVNULL,
                                     stderr=open(self.log_path, "w"))
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("sshd exited: " + self.log())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not listen within 10 s: " + self.log())

    def ssh_args(self, extra=()):
        """The ssh command line up to (not including) the remote command."""
        return ["ssh", "-p", str(self.port), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", *extra, f"{self.user}@127.0.0.1"]

    def ssh(self, command, env=None, extra=(), timeout=60, stdin=b""):
        r = subprocess.run(self.ssh_args(extra) + list(command), env=env, input=stdin, capture_output=True,
                           timeout=timeout)
        return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
