"""Fixtures: a fresh enclave home per test with the biometry simulator enrolled and matching,
the build tree's enclave CLI for the steps a user does by hand, and the daemon stopped after."""
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Cli:
    def __init__(self, binary, env):
        self.binary, self.env = binary, env

    def __call__(self, *args, check=True):
        r = subprocess.run([self.binary, *args], env=self.env, capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise AssertionError(f"enclave {' '.join(args)} failed: {r.stdout}{r.stderr}")
        return r


@pytest.fixture
def home(monkeypatch):
    bin_dir = os.environ.get("ENCLAVE_BIN_DIR")
    if not bin_dir:
        pytest.fail("ENCLAVE_BIN_DIR (the build tree's bin/) is not set; run these tests through ctest")
    d = tempfile.mkdtemp(prefix="enclave-py-")
    h = os.path.join(d, "home")
    os.makedirs(h, mode=0o700)
    monkeypatch.setenv("ENCLAVE_HOME", h)
    monkeypatch.setenv("ENCLAVED", os.path.join(bin_dir, "enclaved"))
    cli = Cli(os.path.join(bin_dir, "enclave"), dict(os.environ))
    cli("config", "set", "biometry", "simulator")
    cli("biometry", "enroll", "--finger", "right-thumb")
    cli("biometry", "match")
    yield h, cli, d
    cli("daemon", "stop", check=False)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def e(home):
    import enclave

    with enclave.open() as handle:
        yield handle
