"""The device side of the fleet report protocol (docs/fleet.md), for the simulator, the dashboard's
end-to-end test and the demo: a simulated enclave device (a device identity key that registers its
credentials with enclave-rpd through the enclave-device proof, as tests/rpd_harness.py's
EnclaveDevice does), the closed report schema, batches, and the envelope signed by the device key
over "enclave-fleet-batch-v1" 0x00 || batch bytes. Requires Debian's python3 (cryptography, fido2)."""
import base64
import datetime
import http.client
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from rpd_harness import EnclaveDevice, cose_es256, options_of  # noqa: E402

BATCH_CONTEXT = b"enclave-fleet-batch-v1\x00"
CAUSE = "biometry-database-reset"


def b64u(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def rfc3339(t):
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Client:
    """One keep-alive HTTP/1.1 connection to enclave-rpd, reopened when the server closes it."""

    def __init__(self, host, port, timeout=30):
        self.host, self.port, self.timeout, self.c = host, port, timeout, None

    def request(self, method, path, body=None, headers=None):
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        h = {"Host": f"localhost:{self.port}", "Content-Type": "application/json", **(headers or {})}
        for attempt in range(2):
            if self.c is None:
                self.c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.c.request(method, path, body=data, headers=h)
                r = self.c.getresponse()
                raw = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.close()
                try:
                    doc = json.loads(raw)
                except ValueError:
                    doc = None
                return r.status, doc
            except (http.client.HTTPException, OSError):
                self.close()
                if attempt:
                    raise
        raise RuntimeError("unreachable")

    def close(self):
        if self.c:
            self.c.close()
        self.c = None


class Device:
    """A simulated enclave home: its device key, its facts (OS, app, token) and its credential."""

    def __init__(self, user, os_id="debian", os_version="12", app_version="2.4.0", token="soft",
                 enclave_version="1.2.0", kernel="6.1.0-18-amd64", app_id="com.example.bank"):
        self.user = user
        self.auth = EnclaveDevice()
        self.facts = {"enclave_version": enclave_version, "os_id": os_id, "os_version": os_version, "kernel": kernel,
                      "app_id": app_id, "app_version": app_version}
        self.token = token
        self.credential_id = None  # base64url, once registered
        self.device_key = cose_es256(self.auth.device_key.public_key())

    def register(self, client, origin, replaces=None, cause=None):
        st, o = client.request("POST", "/v1/registration/options", {"user": self.user})
        if st != 200:
            return st, o
        cred = self.auth.create(options_of(o), origin, replaces=b64d(replaces) if replaces else None, cause=cause)
        st, doc = client.request("POST", "/v1/registration", {"credential": cred})
        if st == 200:
            self.credential_id = cred["id"]
        return st, doc

    def login(self, client, origin, tamper=False):
        st, o = client.request("POST", "/v1/authentication/options", {"user": self.user})
        if st != 200:
            return st, o
        a = self.auth.get(options_of(o), origin)
        if a is None:
            return None, None
        if tamper:  # a signature that does not verify: the server refuses it (source server)
            sig = bytearray(b64d(a["response"]["signature"]))
            sig[-1] ^= 1
            a["response"]["signature"] = b64u(bytes(sig))
        return client.request("POST", "/v1/authentication", {"credential": a})

    # ---- reports (the closed schema of src/fleet/report.h)
    def report(self, kind, t, **fields):
        r = {"id": b64u(os.urandom(16)), "time": rfc3339(t), "kind": kind, **self.facts}
        r.update({k: v for k, v in fields.items() if v is not None})
        return r

    def heartbeat(self, t, keys=None):
        return self.report("heartbeat", t, keys=keys or {"healthy": 1})

    def failure(self, t, cause=CAUSE, found_by="use", operation=None, credential_id=None):
        return self.report("failure", t, credential_id=credential_id or self.credential_id,
                           operation=operation or ("doctor" if found_by == "doctor" else "sign"),
                           domain="CryptoTokenKit", code=-3, cause=cause, permanence="permanent", remedy="reenroll",
                           found_by=found_by, token=self.token, prompted=False)

    def reenroll(self, t, new_credential_id, replaced_credential_id, cause=CAUSE):
        return self.report("reenroll", t, credential_id=new_credential_id,
                           replaced_credential_id=replaced_credential_id, cause=cause, token=self.token)

    def envelope(self, reports, dropped=0, sent_at=None, key=None):
        batch = json.dumps({"reports": reports, "sent_at": rfc3339(sent_at or time.time()), "dropped": dropped},
                           separators=(",", ":")).encode()
        signer = key or self.auth.device_key
        sig = signer.sign(BATCH_CONTEXT + batch, ec.ECDSA(hashes.SHA256()))
        return {"device_key": b64u(self.device_key), "batch": b64u(batch), "signature": b64u(sig)}

    def send(self, client, reports, dropped=0, key=None):
        return client.request("POST", "/v1/reports", self.envelope(reports, dropped, key=key))


def stranger_key():
    """A P-256 key no registration ever proved (an unknown device, or a forger's)."""
    return ec.generate_private_key(ec.SECP256R1())
