"""A small relying party with enclave-rpd's API (docs/rp.md) on python-fido2's Fido2Server, for the
device-side tests when enclave-rpd itself is not built: registrations with the device-key proof
(registered / rebound / needs-step-up), logins, the error body {"error": {"reason", "message"}}.
In memory, one process, not the project's relying party."""
import base64
import hashlib
import json
import os
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def b64u(b):
    return base64.urlsafe_b64encode(bytes(b)).decode().rstrip("=")


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jsonable(o):
    from enum import Enum
    if isinstance(o, (bytes, bytearray)):
        return b64u(bytes(o))
    if isinstance(o, Enum):
        return o.value
    if isinstance(o, dict):
        return {k: jsonable(v) for k, v in o.items() if v is not None}
    if isinstance(o, (list, tuple)):
        return [jsonable(x) for x in o]
    return o


def device_proof_message(rp_id_hash, credential_id, cose_key, replaces, cause):
    def field(b):
        return struct.pack(">H", len(b)) + b
    return (b"enclave-device-proof-v1\x00" + rp_id_hash + field(credential_id) + field(cose_key) + field(replaces)
            + field(cause.encode()))


class StandinRP:
    def __init__(self, rp_id, origins):
        from fido2.server import Fido2Server
        self.rp_id, self.origins = rp_id, origins
        self.server = Fido2Server({"id": rp_id, "name": "stand-in"}, attestation="direct",
                                  verify_origin=lambda o: o in origins)
        self.lock = threading.Lock()
        self.challenges = {}   # challenge b64u -> [kind, user, state, used]
        self.users = {}        # user -> {"handle", "creds": [{"id", "data", "state", "device_key"}]}
        rp = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def reply(self, status, doc):
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def fail(self, status, reason, message=""):
                self.reply(status, {"error": {"reason": reason, "message": message or reason}})

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    doc = json.loads(raw)
                    assert isinstance(doc, dict)
                except Exception:
                    return self.fail(400, "malformed", "not a JSON object")
                handler = getattr(rp, "api_" + self.path.strip("/").replace("/", "_"), None)
                if handler is None:
                    return self.fail(404, "not-found")
                try:
                    status, answer = handler(doc)
                except (KeyError, TypeError, ValueError) as e:
                    status, answer = 400, {"error": {"reason": "malformed", "message": str(e)}}
                self.reply(status, answer)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    @staticmethod
    def err(reason, message=""):
        return 400, {"error": {"reason": reason, "message": message or reason}}

    def credentials(self, user):
        with self.lock:
            u = self.users.get(user, {"creds": []})
            return [{"credential_id": b64u(c["id"]), "state": c["state"]} for c in u["creds"]]

    def api_v1_registration_options(self, doc):
        user = doc["user"]
        with self.lock:
            u = self.users.setdefault(user, {"handle": os.urandom(16), "creds": []})
            opts, state = self.server.register_begin(
                {"id": u["handle"], "name": user, "displayName": user},
                [c["data"] for c in u["creds"] if c["state"] == "active"], user_verification="required")
            self.challenges[state["challenge"]] = ["create", user, state, False]
        return 200, jsonable(opts["publicKey"])

    def api_v1_authentication_options(self, doc):
        user = doc["user"]
        with self.lock:
            u = self.users.get(user, {"creds": []})
            opts, state = self.server.authenticate_begin(
                [c["data"] for c in u["creds"] if c["state"] == "active"], user_verification="required")
            self.challenges[state["challenge"]] = ["get", user, state, False]
        return 200, jsonable(opts["publicKey"])

    def take(self, cred, kind):
        from fido2.client import ClientData
        cd = ClientData(b64d(cred["response"]["clientDataJSON"]))
        with self.lock:
            ch = self.challenges.get(cd.get("challenge"))
            if ch is None or ch[0] != kind:
                return cd, None, "challenge-unknown"
            if ch[3]:
                return cd, None, "challenge-reused"
            ch[3] = True
        if cd.get("origin") not in self.origins:
            return cd, None, "origin-mismatch"
        return cd, ch, None

    def api_v1_registration(self, doc):
        from fido2.cose import CoseKey
        from fido2.ctap2 import AttestationObject
        from fido2 import cbor
        cred = doc["credential"]
        cd, ch, why = self.take(cred, "create")
        if why:
            return self.err(why)
        try:
            ad = self.server.register_complete(ch[2], cd, AttestationObject(b64d(cred["response"]["attestationObject"])))
        except ValueError as e:
            return self.err("signature-invalid" if "ignature" in str(e) else "malformed", str(e))
        cid, cose = ad.credential_data.credential_id, cbor.encode(ad.credential_data.public_key)
        proof = (ad.extensions or {}).get("enclave-device")
        device_key, replaces, status = None, None, "registered"
        if isinstance(proof, dict):
            replaces, cause = proof.get(3, b""), proof.get(4, "")
            msg = device_proof_message(hashlib.sha256(self.rp_id.encode()).digest(), cid, cose, replaces, cause)
            try:
                CoseKey.parse(cbor.decode(proof[1])).verify(msg, proof[2])
                device_key = proof[1]
            except Exception:
                return self.err("signature-invalid", "the device-key proof does not verify")
        with self.lock:
            u = self.users[ch[1]]
            actives = [c for c in u["creds"] if c["state"] == "active"]
            old = [c for c in u["creds"] if replaces and c["id"] == replaces]
            if old and device_key and old[0]["device_key"] == device_key:
                old[0]["state"], status = "replaced", "rebound"
            elif actives:
                status = "needs-step-up"
            u["creds"].append({"id": cid, "data": ad.credential_data, "device_key": device_key,
                               "state": "active" if status != "needs-step-up" else "needs-step-up"})
        return 200, {"user": ch[1], "credential_id": b64u(cid), "status": status}

    def api_v1_authentication(self, doc):
        from fido2.ctap2 import AuthenticatorData
        cred = doc["credential"]
        cd, ch, why = self.take(cred, "get")
        if why:
            return self.err(why)
        cid = b64d(cred["rawId"])
        with self.lock:
            owner = [(n, c) for n, u in self.users.items() for c in u["creds"] if c["id"] == cid]
        if not owner:
            return 404, {"error": {"reason": "credential-unknown", "message": "no such credential"}}
        if owner[0][0] != ch[1]:
            return self.err("credential-not-owned")
        if owner[0][1]["state"] != "active":
            return self.err("credential-dead")
        try:
            self.server.authenticate_complete(ch[2], [owner[0][1]["data"]], cid, cd,
                                              AuthenticatorData(b64d(cred["response"]["authenticatorData"])),
                                              b64d(cred["response"]["signature"]))
        except ValueError as e:
            return self.err("signature-invalid", str(e))
        return 200, {"user": ch[1], "credential_id": b64u(cid), "status": "ok"}
