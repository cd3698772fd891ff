"""Helpers for enclave-rpd's end-to-end tests: the server process, HTTP by hand, a software WebAuthn
authenticator (P-256 keys from python3-cryptography, CBOR from python-fido2), a throwaway PostgreSQL
and haproxy in front of several servers."""
import base64
import glob
import hashlib
import http.client
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2 import cbor

BIN = os.environ.get("ENCLAVE_BIN_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "bin")
RPD = os.path.join(BIN, "enclave-rpd")


def b64u(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Resp:
    def __init__(self, status, headers, body, elapsed):
        self.status, self.headers, self.body, self.elapsed = status, headers, body, elapsed
        try:
            self.doc = json.loads(body)
        except Exception:
            self.doc = None

    def reason(self):
        e = self.doc.get("error") if isinstance(self.doc, dict) else None
        return e.get("reason") if isinstance(e, dict) else None

    def __repr__(self):
        return f"HTTP {self.status} {self.headers} {self.body[:300]!r}"


def req(port, method, path, body=None, headers=None, timeout=15, ctype="application/json"):
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    h = {"Host": f"localhost:{port}"}
    if ctype:
        h["Content-Type"] = ctype
    h.update(headers or {})
    t0 = time.time()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, raw, time.time() - t0)
    except Exception as e:
        return Resp(None, {}, repr(e).encode(), time.time() - t0)
    finally:
        c.close()


def options_of(doc):
    """The options the server returns, bare or wrapped in {"publicKey": ...}."""
    return doc["publicKey"] if isinstance(doc, dict) and isinstance(doc.get("publicKey"), dict) else doc


class SoftAuthenticator:
    """A platform authenticator in software: P-256, UP and UV set, BE/BS clear, counter 0, packed
    self-attestation, clientDataJSON in WebAuthn's limited-verification form."""

    def __init__(self):
        self.creds = {}  # credential id -> (private key, rp id, user handle)

    @staticmethod
    def client_data(kind, challenge, origin):
        return ('{"type":%s,"challenge":%s,"origin":%s,"crossOrigin":false}'
                % (json.dumps(kind), json.dumps(challenge), json.dumps(origin))).encode()

    def create(self, options, origin, flags=0x45):
        rp_id = options["rp"]["id"]
        priv = ec.generate_private_key(ec.SECP256R1())
        n = priv.public_key().public_numbers()
        cose = cbor.encode({1: 2, 3: -7, -1: 1, -2: n.x.to_bytes(32, "big"), -3: n.y.to_bytes(32, "big")})
        cid = os.urandom(32)
        cdj = self.client_data("webauthn.create", options["challenge"], origin)
        rp_hash = hashlib.sha256(rp_id.encode()).digest()
        ext = self.extension(rp_hash, cid, cose)
        ad = (rp_hash + bytes([flags | (0x80 if ext else 0)]) + (0).to_bytes(4, "big") + bytes(16)
              + len(cid).to_bytes(2, "big") + cid + cose + ext)
        sig = priv.sign(ad + hashlib.sha256(cdj).digest(), ec.ECDSA(hashes.SHA256()))
        att = cbor.encode({"fmt": "packed", "attStmt": {"alg": -7, "sig": sig}, "authData": ad})
        self.creds[cid] = (priv, rp_id, b64d(options["user"]["id"]))
        return {"id": b64u(cid), "rawId": b64u(cid), "type": "public-key", "authenticatorAttachment": "platform",
                "response": {"clientDataJSON": b64u(cdj), "attestationObject": b64u(att), "transports": ["internal"]},
                "clientExtensionResults": {}}

    def extension(self, rp_id_hash, cid, cose):
        return b""

    def get(self, options, origin, flags=0x05, counter=0):
        rp_id = options.get("rpId")
        allowed = [b64d(c["id"]) for c in options.get("allowCredentials") or []]
        mine = [c for c in (allowed or list(self.creds)) if c in self.creds]
        if not mine:
            return None
        cid = mine[0]
        priv, cred_rp, handle = self.creds[cid]
        cdj = self.client_data("webauthn.get", options["challenge"], origin)
        ad = hashlib.sha256((rp_id or cred_rp).encode()).digest() + bytes([flags]) + counter.to_bytes(4, "big")
        sig = priv.sign(ad + hashlib.sha256(cdj).digest(), ec.ECDSA(hashes.SHA256()))
        return {"id": b64u(cid), "rawId": b64u(cid), "type": "public-key", "authenticatorAttachment": "platform",
                "response": {"authenticatorData": b64u(ad), "clientDataJSON": b64u(cdj), "signature": b64u(sig),
                             "userHandle": b64u(handle)}, "clientExtensionResults": {}}


def cose_es256(pub):
    n = pub.public_numbers()
    return cbor.encode({1: 2, 3: -7, -1: 1, -2: n.x.to_bytes(32, "big"), -3: n.y.to_bytes(32, "big")})


def u16(b):
    return len(b).to_bytes(2, "big") + b


class EnclaveDevice(SoftAuthenticator):
    """A SoftAuthenticator with an enclave home's device key: every registration carries the
    enclave-device extension (ED set) whose proof is signed by that key (docs/rp.md's format), and it
    can sign dead-key reports. `replaces`/`cause` name the credential a re-enrollment replaces."""

    def __init__(self, device_key=None):
        super().__init__()
        self.device_key = device_key or ec.generate_private_key(ec.SECP256R1())

    def create(self, options, origin, flags=0x45, replaces=None, cause=None, forge=False):
        self._proof = (replaces, cause, forge)
        return super().create(options, origin, flags)

    def extension(self, rp_id_hash, cid, cose):
        replaces, cause, forge = self._proof
        msg = (b"enclave-device-proof-v1\x00" + rp_id_hash + u16(cid) + u16(cose) + u16(replaces or b"")
               + u16((cause or "").encode()))
        sig = self.device_key.sign(msg, ec.ECDSA(hashes.SHA256()))
        if forge:
            sig = ec.generate_private_key(ec.SECP256R1()).sign(msg, ec.ECDSA(hashes.SHA256()))
        proof = {1: cose_es256(self.device_key.public_key()), 2: sig}
        if replaces:
            proof[3] = replaces
        if cause:
            proof[4] = cause
        return cbor.encode({"enclave-device": proof})

    def dead_report(self, cid, cause):
        msg = b"enclave-dead-report-v1\x00" + u16(cid) + u16(cause.encode())
        return {"credential_id": b64u(cid), "cause": cause,
                "device_signature": b64u(self.device_key.sign(msg, ec.ECDSA(hashes.SHA256())))}


class Rpd:
    """One enclave-rpd process on a free port; its log (stderr: one line per request) in `log`."""

    def __init__(self, tmp, db, name="rpd", port=None, extra=(), origins=None, token=None, tls=None):
        self.tmp, self.db, self.name, self.extra = tmp, db, name, list(extra)
        self.port = port or free_port()
        self.origins = origins or [f"http://localhost:{self.port}"]
        self.token = token or secrets.token_urlsafe(24)
        self.token_file = os.path.join(tmp, f"{name}-token")
        with open(self.token_file, "w") as f:
            f.write(self.token + "\n")
        os.chmod(self.token_file, 0o600)
        self.tls = tls
        self.log = os.path.join(tmp, f"{name}.log")
        self.p = None

    def start(self, wait=20):
        cmd = [RPD, "--listen", f"127.0.0.1:{self.port}", "--db", self.db, "--rp-id", "localhost",
               "--admin-token-file", self.token_file, *self.extra]
        for o in self.origins:
            cmd += ["--origin", o]
        if self.tls:
            cmd += ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
        self.p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(self.log, "ab"))
        end = time.time() + wait
        while time.time() < end:
            if self.p.poll() is not None:
                return False
            if self.tls or req(self.port, "GET", "/healthz", timeout=2).status == 200:
                if not self.tls or self.wait_tls():
                    return True
            time.sleep(0.1)
        return False

    def wait_tls(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()

    def sigkill(self):
        os.kill(self.p.pid, signal.SIGKILL)
        self.p.wait(timeout=10)

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def logtext(self):
        try:
            return open(self.log, errors="replace").read()
        except OSError:
            return ""

    def admin(self, token=None):
        return {"Authorization": "Bearer " + (self.token if token is None else token)}

    # ---- ceremonies
    def register(self, dev, user, origin=None, **kw):
        o = req(self.port, "POST", "/v1/registration/options", {"user": user})
        if o.status != 200:
            return o, None
        cred = dev.create(options_of(o.doc), origin or self.origins[0], **kw)
        return req(self.port, "POST", "/v1/registration", {"credential": cred}), cred

    def assertion(self, dev, user, origin=None):
        o = req(self.port, "POST", "/v1/authentication/options", {"user": user})
        if o.status != 200:
            return None, o
        return dev.get(options_of(o.doc), origin or self.origins[0]), o

    def login(self, dev, user, port=None):
        a, o = self.assertion(dev, user)
        if a is None:
            return o
        return req(port or self.port, "POST", "/v1/authentication", {"credential": a})

    def credentials(self, user):
        r = req(self.port, "GET", f"/v1/users/{user}/credentials", headers=self.admin())
        doc = r.doc
        lst = doc if isinstance(doc, list) else (doc or {}).get("credentials", []) if isinstance(doc, dict) else []
        return r, [dict(c, id=c.get("credential_id") or c.get("id")) for c in lst if isinstance(c, dict)]


class Postgres:
    """A throwaway PostgreSQL: initdb + pg_ctl in a temporary folder on a loopback port; as root it
    runs under a throwaway system user (PostgreSQL refuses root)."""

    def __init__(self):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise FileNotFoundError("initdb")
        self.bin = os.path.dirname(bins[-1])
        self.dir = tempfile.mkdtemp(prefix="rpd-pg-")
        self.user = None
        if os.geteuid() == 0:
            self.user = "rpdpg" + secrets.token_hex(3)
            subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                            "--shell", "/usr/sbin/nologin", self.user], check=True, capture_output=True)
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o700)
        self.port = free_port()
        self.run(f"{self.bin}/initdb", "-D", f"{self.dir}/data", "-U", "postgres", "-A", "trust", "--no-sync",
                 "-E", "UTF8", "--no-locale")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/enclave_rp"

    def run(self, *cmd, check=True):
        if self.user:
            cmd = ("runuser", "-u", self.user, "--", *cmd)
        return subprocess.run(cmd, check=check, capture_output=True, timeout=120)

    def start(self):
        self.run(f"{self.bin}/pg_ctl", "-D", f"{self.dir}/data", "-l", f"{self.dir}/log", "-w", "-t", "60", "-o",
                 f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off", "start")

    def stop(self, mode="fast"):
        self.run(f"{self.bin}/pg_ctl", "-D", f"{self.dir}/data", "-m", mode, "-w", "-t", "60", "stop", check=False)

    def createdb(self):
        subprocess.run(["psql", f"postgresql://postgres@127.0.0.1:{self.port}/postgres", "-Atc",
                        "create database enclave_rp"], check=True, capture_output=True, timeout=30)

    def close(self):
        pidfile = f"{self.dir}/data/postmaster.pid"
        pid = int(open(pidfile).readline()) if os.path.exists(pidfile) else None
        self.stop("immediate")
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)  # the postmaster this helper started, if pg_ctl left it
            except ProcessLookupError:
                pass
        if self.user:
            time.sleep(0.2)
            subprocess.run(["userdel", self.user], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class Haproxy:
    """haproxy on a free port, round robin over the given backends' ports, from a generated config."""

    def __init__(self, tmp, ports):
        self.port = free_port()
        cfg = os.path.join(tmp, "haproxy.cfg")
        lines = ["global", "  maxconn 4096", "defaults", "  mode http", "  timeout connect 2s",
                 "  timeout client 30s", "  timeout server 30s", "  option forwardfor",
                 "frontend fe", f"  bind 127.0.0.1:{self.port}", "  default_backend be",
                 "backend be", "  balance roundrobin"]
        lines += [f"  server s{i} 127.0.0.1:{p}" for i, p in enumerate(ports)]
        with open(cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.p = subprocess.Popen(["haproxy", "-f", cfg, "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.time() + 10
        while time.time() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)

    def close(self):
        self.p.terminate()
        self.p.wait(timeout=10)
