"""Issue 17, the device side, end to end through the CLI and the real daemon: `enclave webauthn
create/get` checked by python-fido2's Fido2Server (Debian's python3-fido2, so run with
/usr/bin/python3), and `enclave rp register/login/reenroll` against enclave-rpd when it is built,
else against a python-fido2 stand-in with its API (webauthn_standin.py)."""
import hashlib
import http.client
import json
import os
import secrets
import socket
import subprocess
import tempfile
import time
import unittest

from enclave_cli import BIN, HomeTest, err
from webauthn_standin import StandinRP, b64d, b64u, jsonable

ORIGIN = "https://example.com"
UP, UV, BE, BS, AT, ED = 0x01, 0x04, 0x08, 0x10, 0x40, 0x80


class Fido2Device(HomeTest):
    def setUp(self):
        super().setUp()
        from fido2.attestation import PackedAttestation
        from fido2.server import Fido2Server
        self.simulator()
        self.attestation_types = []

        def packed_only(att, client_data_hash):
            self.assertEqual(att.fmt, "packed")
            self.attestation_types.append(
                PackedAttestation().verify(att.att_statement, att.auth_data, client_data_hash).attestation_type)

        self.server = Fido2Server({"id": "example.com", "name": "Example"}, attestation="direct",
                                  verify_attestation=packed_only)

    def create(self, options, *extra, origin=ORIGIN):
        return self.h.json("webauthn", "create", "--options", "-", "--origin", origin, *extra,
                           stdin=json.dumps(options).encode())

    def get(self, options, origin=ORIGIN):
        return self.h.json("webauthn", "get", "--options", "-", "--origin", origin, stdin=json.dumps(options).encode())

    def register(self, handle=b"alice-user-handle-0001", uv="required", *extra):
        from fido2.client import ClientData
        from fido2.ctap2 import AttestationObject
        opts, state = self.server.register_begin({"id": handle, "name": "alice", "displayName": "Alice"},
                                                 user_verification=uv)
        rc, cred = self.create(jsonable(opts["publicKey"]), *extra)
        self.assertEqual(rc, 0, cred)
        att = AttestationObject(b64d(cred["response"]["attestationObject"]))
        ad = self.server.register_complete(state, ClientData(b64d(cred["response"]["clientDataJSON"])), att)
        return cred, att, ad

    def assertion(self, cd):
        ropts, rstate = self.server.authenticate_begin([cd], user_verification="required")
        rc, a = self.get(jsonable(ropts["publicKey"]))
        return rc, a, rstate

    def authenticate(self, rstate, cd, a, signature=None):
        from fido2.client import ClientData
        from fido2.ctap2 import AuthenticatorData
        r = a["response"]
        return self.server.authenticate_complete(
            rstate, [cd], b64d(a["rawId"]), ClientData(b64d(r["clientDataJSON"])),
            AuthenticatorData(b64d(r["authenticatorData"])), signature or b64d(r["signature"]))

    def test_registration_is_accepted_by_fido2_as_packed_self_attestation(self):
        from fido2.attestation import AttestationType
        from fido2.cose import ES256, CoseKey
        cred, att, ad = self.register()
        self.assertEqual(self.attestation_types, [AttestationType.SELF])
        self.assertEqual(cred["id"], cred["rawId"])
        self.assertEqual((cred["type"], cred["authenticatorAttachment"]), ("public-key", "platform"))
        self.assertEqual(cred["response"]["transports"], ["internal"])
        self.assertEqual(cred["clientExtensionResults"], {})
        for v in (cred["id"], cred["response"]["clientDataJSON"], cred["response"]["attestationObject"]):
            self.assertNotIn("=", v)
        self.assertEqual(ad.flags & (UP | UV | AT | ED), UP | UV | AT | ED)
        self.assertEqual(ad.flags & (BE | BS), 0)
        self.assertEqual(ad.counter, 0)
        self.assertEqual(ad.credential_data.credential_id, b64d(cred["rawId"]))
        self.assertNotEqual(ad.credential_data.aaguid, bytes(16))
        key = CoseKey.parse(ad.credential_data.public_key)
        self.assertIsInstance(key, ES256)
        proof = ad.extensions["enclave-device"]
        self.assertEqual(sorted(proof), [1, 2])
        x963 = "04" + key[-2].hex() + key[-3].hex()
        mine = [k for k in self.ok("key", "list")["keys"] if k["public_key_x963"] == x963]
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["application_label_hex"], b"alice-user-handle-0001".hex())
        self.assertEqual(mine[0]["access_control"], ["biometry-any", "private-key-usage"])
        # The credential id is SHA-256 of the public key.
        self.assertEqual(hashlib.sha256(bytes.fromhex(x963)).digest(), b64d(cred["rawId"]))

    def test_registration_with_its_signature_altered_is_refused(self):
        from fido2.client import ClientData
        from fido2.ctap2 import AttestationObject
        opts, state = self.server.register_begin({"id": b"h2", "name": "bob", "displayName": "Bob"},
                                                 user_verification="required")
        rc, cred = self.create(jsonable(opts["publicKey"]))
        self.assertEqual(rc, 0, cred)
        bad = bytearray(b64d(cred["response"]["attestationObject"]))
        bad[-1] ^= 1
        with self.assertRaises(Exception):
            self.server.register_complete(state, ClientData(b64d(cred["response"]["clientDataJSON"])),
                                          AttestationObject(bytes(bad)))

    def test_assertion_is_accepted_and_names_the_rp_in_its_prompt(self):
        cred, att, ad = self.register()
        before = self.ok("biometry", "match")
        rc, a, rstate = self.assertion(ad.credential_data)
        self.assertEqual(rc, 0, a)
        self.assertEqual(a["rawId"], cred["rawId"])
        self.assertEqual(a["response"]["userHandle"], b64u(b"alice-user-handle-0001"))
        self.assertEqual(b64d(a["response"]["signature"])[:1], b"\x30")
        cdj = b64d(a["response"]["clientDataJSON"])
        self.assertTrue(cdj.startswith(('{"type":"webauthn.get","challenge":"%s","origin":"%s","crossOrigin":false'
                                        % (jsonable(rstate["challenge"]), ORIGIN)).encode()), cdj)
        self.authenticate(rstate, ad.credential_data, a)
        flags = b64d(a["response"]["authenticatorData"])[32]
        self.assertEqual(flags & (UP | UV | BE | BS | AT | ED), UP | UV)
        after = self.ok("biometry", "match")
        self.assertGreater(after.get("prompts", 0), before.get("prompts", 0))
        self.assertIn("example.com", str(after.get("last_prompt")))
        bad = bytearray(b64d(a["response"]["signature"]))
        bad[-1] ^= 1
        with self.assertRaises(Exception):
            self.authenticate(rstate, ad.credential_data, a, bytes(bad))

    def test_no_match_fails_and_prints_no_assertion(self):
        cred, att, ad = self.register()
        self.ok("biometry", "no-match")
        rc, out, _ = self.assertion(ad.credential_data)
        self.assertNotEqual(rc, 0)
        self.assertNotIn("response", out)
        self.assertEqual(err(out)["domain"], "LocalAuthentication")
        self.assertTrue(out.get("prompted"))

    def test_after_a_biometry_reset_get_fails_like_sign(self):
        cred, att, ad = self.register()
        self.ok("biometry", "reset")
        self.ok("biometry", "enroll", "--finger", "right-thumb")
        self.ok("biometry", "match")
        rc, out, _ = self.assertion(ad.credential_data)
        self.assertNotEqual(rc, 0)
        self.assertNotIn("response", out)
        e = err(out)
        self.assertEqual((e["domain"], e["code"], e["cause"], e["permanence"]),
                         ("CryptoTokenKit", -3, "biometry-database-reset", "permanent"))
        self.assertEqual(e["user_info"].get("AKSError"), -536362999)
        self.assertFalse(out.get("prompted"))

    def test_without_user_verification_the_key_asks_for_none(self):
        cred, att, ad = self.register(b"carol-handle", "discouraged")
        self.assertEqual(ad.flags & UV, 0)
        self.assertEqual(self.ok("key", "list")["keys"][0]["access_control"], ["private-key-usage"])

    def test_options_the_enclave_cannot_serve_are_refused(self):
        opts, _ = self.server.register_begin({"id": b"d", "name": "d", "displayName": "d"}, user_verification="required")
        o = jsonable(opts["publicKey"])
        rc, out = self.create(o, origin="https://example.org")         # rp id not the origin's
        self.assertEqual((rc, err(out).get("code")), (1, -50), out)
        rc, out = self.create(dict(o, pubKeyCredParams=[{"type": "public-key", "alg": -257}]))
        self.assertEqual((rc, err(out).get("code")), (1, -50), out)
        rc, out = self.create(o, "--access-control", "private-key-usage")  # UV required, none asked
        self.assertEqual((rc, err(out).get("code")), (1, -50), out)
        self.assertEqual(self.ok("key", "list")["keys"], [])

    def test_excluded_credential_is_not_made_again(self):
        cred, att, ad = self.register()
        opts, _ = self.server.register_begin({"id": b"other", "name": "o", "displayName": "o"},
                                             [ad.credential_data], user_verification="required")
        rc, out = self.create(jsonable(opts["publicKey"]))
        self.assertEqual((rc, err(out).get("code")), (1, -25299), out)

    def test_an_excluded_credential_whose_key_died_does_not_block_a_new_one(self):
        cred, att, ad = self.register(b"dead-handle")
        self.ok("biometry", "reset")
        self.ok("biometry", "enroll", "--finger", "right-thumb")
        self.ok("biometry", "match")
        opts, _ = self.server.register_begin({"id": b"dead-handle", "name": "d", "displayName": "d"},
                                             [ad.credential_data], user_verification="required")
        rc, out = self.create(jsonable(opts["publicKey"]))
        self.assertEqual(rc, 0, out)
        self.assertNotEqual(out["rawId"], b64u(ad.credential_data.credential_id), out)

    def test_the_device_key_is_one_per_home_and_out_of_key_list(self):
        _, _, ad1 = self.register(b"one")
        _, _, ad2 = self.register(b"two")
        self.assertEqual(ad1.extensions["enclave-device"][1], ad2.extensions["enclave-device"][1])
        self.assertEqual(len(self.ok("key", "list")["keys"]), 2)
        dev = self.ok("key", "list", "--application-label", "enclave.device-identity.v1")["keys"]
        self.assertEqual(len(dev), 1)
        self.assertEqual(dev[0]["accessible"], "after-first-unlock-this-device-only")
        self.assertEqual(dev[0]["access_control"], ["private-key-usage"])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """enclave-rpd on SQLite when built, else the stand-in; both on a loopback port, rp id localhost."""

    def __init__(self):
        self.port = free_port()
        self.origin = f"http://localhost:{self.port}"
        self.rpd = os.path.join(BIN, "enclave-rpd")
        self.proc, self.standin = None, None
        self.tmp = tempfile.mkdtemp(prefix="enclave-rp-e2e-")
        if os.access(self.rpd, os.X_OK) and os.environ.get("WEBAUTHN_E2E_STANDIN") != "1":
            self.token = secrets.token_urlsafe(16)
            tf = os.path.join(self.tmp, "token")
            with open(tf, "w") as f:
                f.write(self.token)
            self.log = open(os.path.join(self.tmp, "log"), "wb")
            self.proc = subprocess.Popen(
                [self.rpd, "--listen", f"127.0.0.1:{self.port}", "--db", f"sqlite:{self.tmp}/rp.sqlite",
                 "--rp-id", "localhost", "--origin", self.origin, "--admin-token-file", tf, "--quiet"],
                stdout=subprocess.DEVNULL, stderr=self.log)
            for _ in range(100):
                if self.healthy():
                    break
                time.sleep(0.1)
        else:
            self.standin = StandinRP("localhost", [self.origin])
            self.port = self.standin.port
            self.origin = f"http://localhost:{self.port}"
            self.standin.origins[:] = [self.origin]

    def healthy(self):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                c.request("GET", "/healthz")
                return c.getresponse().status == 200
            finally:
                c.close()
        except OSError:
            return False

    def credentials(self, user):
        if self.standin:
            return self.standin.credentials(user)
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request("GET", f"/v1/users/{user}/credentials", headers={"Authorization": "Bearer " + self.token})
            return json.loads(c.getresponse().read())["credentials"]
        finally:
            c.close()

    def close(self):
        if self.standin:
            self.standin.close()
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.log.close()
        subprocess.run(["rm", "-rf", self.tmp])


class RpFlows(HomeTest):
    def setUp(self):
        super().setUp()
        self.simulator()
        self.srv = Server()
        self.addCleanup(self.srv.close)

    def rp(self, *args, h=None):
        return (h or self.h).json("rp", *args, "--server", self.srv.origin, timeout=120)

    def test_register_login_reenroll_rebound(self):
        rc, reg = self.rp("register", "--user", "alice", "--application-label", "rp-alice")
        self.assertEqual((rc, reg.get("status")), (0, "registered"), reg)
        rc, lg = self.rp("login", "--user", "alice")
        self.assertEqual((rc, lg.get("status")), (0, "ok"), lg)
        self.assertEqual(lg["credential_id"], reg["credential_id"])
        self.ok("biometry", "reset")
        self.ok("biometry", "enroll", "--finger", "right-thumb")
        self.ok("biometry", "match")
        rc, out = self.rp("login", "--user", "alice")
        self.assertEqual((rc, err(out).get("code"), err(out).get("cause")), (1, -3, "biometry-database-reset"), out)
        rc, re = self.rp("reenroll", "--application-label", "rp-alice")
        self.assertEqual((rc, re.get("status")), (0, "rebound"), re)
        self.assertEqual(re["cause"], "biometry-database-reset")
        self.assertEqual(re["replaced_credential_id"], reg["credential_id"])
        states = {c["credential_id"]: c["state"] for c in self.srv.credentials("alice")}
        self.assertEqual(states, {reg["credential_id"]: "replaced", re["credential_id"]: "active"})
        rc, lg = self.rp("login", "--user", "alice")
        self.assertEqual((rc, lg.get("status"), lg.get("credential_id")), (0, "ok", re["credential_id"]), lg)
        # The replacement's record no longer names the replaced credential once the server took it.
        key = self.ok("key", "show", "--application-label", "rp-alice")
        self.assertNotIn("replaces", json.loads(bytes.fromhex(key["application_tag_hex"])))

    def test_another_home_needs_a_step_up(self):
        from enclave_cli import Home
        rc, reg = self.rp("register", "--user", "alice")
        self.assertEqual(reg.get("status"), "registered", reg)
        other = Home()
        self.addCleanup(other.close)
        for args in (("config", "set", "biometry", "simulator"), ("biometry", "enroll", "--finger", "f"),
                     ("biometry", "match")):
            other.run(*args, check=True)
        rc, d2 = self.rp("register", "--user", "alice", h=other)
        self.assertEqual(d2.get("status"), "needs-step-up", d2)
        rc, lg = self.rp("login", "--user", "alice", h=other)
        self.assertNotEqual(rc, 0)
        self.assertEqual(err(lg).get("code"), -25300, lg)

    def test_server_refusals_show_their_reason(self):
        rc, reg = self.rp("register", "--user", "bob")
        self.assertEqual(reg.get("status"), "registered", reg)
        rc, out = self.rp("login", "--user", "bob", "--origin", "http://localhost:1")
        e = err(out)
        self.assertEqual((rc, e.get("domain"), e.get("code"), e.get("cause")),
                         (1, "RelyingParty", 400, "origin-mismatch"), out)
        r = self.h.run("rp", "login", "--user", "bob", "--server", self.srv.origin, "--origin", "http://localhost:1")
        self.assertIn(b"origin-mismatch", r.stderr)
        rc, out = self.h.json("rp", "login", "--user", "bob", "--server", f"http://127.0.0.1:{free_port()}")
        self.assertEqual((rc, err(out).get("cause")), (1, "server-unreachable"), out)


TCTI = os.environ.get("ENCLAVE_TEST_TPM2_TCTI")


@unittest.skipUnless(TCTI and os.access(os.path.join(BIN, "enclave-rpd"), os.X_OK),
                     "needs a TPM (`make test` starts a swtpm) and enclave-rpd")
class TpmAttestation(HomeTest):
    """A tpm2 key's registration carries the TPM's certification of the key (the enclave-tpm
    extension, docs/rp.md), which enclave-rpd checks; altered or replayed ones are refused."""

    def setUp(self):
        super().setUp()
        self.simulator()
        self.ok("config", "set", "tpm2-tcti", TCTI)
        self.srv = Server()
        self.addCleanup(self.srv.close)

    def post(self, path, body):
        c = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=30)
        try:
            c.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
            r = c.getresponse()
            return r.status, json.loads(r.read() or b"null")
        finally:
            c.close()

    def create(self, user, label):
        st, opts = self.post("/v1/registration/options", {"user": user})
        self.assertEqual(st, 200, opts)
        rc, cred = self.h.json("webauthn", "create", "--options", "-", "--origin", self.srv.origin, "--token", "tpm2",
                               "--application-label", label, stdin=json.dumps(opts).encode(), timeout=120)
        self.assertEqual(rc, 0, cred)
        return cred

    def client_data(self, user):
        """A fresh challenge's clientDataJSON, in the form the enclave writes."""
        st, opts = self.post("/v1/registration/options", {"user": user})
        self.assertEqual(st, 200, opts)
        return json.dumps({"type": "webauthn.create", "challenge": opts["challenge"], "origin": self.srv.origin,
                           "crossOrigin": False}, separators=(",", ":")).encode()

    def resubmit(self, cred, label, client_data, alter=None):
        """The registration with its clientDataJSON replaced and its enclave-tpm extension (the
        decoded map) passed through `alter`, signed again by the credential's own key (packed self attestation)."""
        from fido2 import cbor
        att = cbor.decode(b64d(cred["response"]["attestationObject"]))
        ad = att["authData"]
        n = int.from_bytes(ad[53:55], "big")
        _, after_key = cbor.decode_from(ad[55 + n:])
        prefix, ext = ad[:len(ad) - len(after_key)], cbor.decode(after_key)
        self.assertIn("enclave-tpm", ext)
        self.assertIn("enclave-device", ext)
        if alter:
            ext["enclave-tpm"] = alter(ext["enclave-tpm"])
        new_ad = prefix + cbor.encode(ext)
        msg = self.h.write("msg", new_ad + hashlib.sha256(client_data).digest())
        sig = self.h.path("sig")
        self.ok("sign", "--application-label", label, "--algorithm", "ecdsa-signature-message-x962-sha256",
                "--in", msg, "--out", sig)
        with open(sig, "rb") as f:
            stmt = {"alg": -7, "sig": f.read()}
        obj = cbor.encode({"fmt": "packed", "attStmt": stmt, "authData": new_ad})
        body = {"credential": {"id": cred["id"], "rawId": cred["rawId"], "type": "public-key",
                               "response": {"clientDataJSON": b64u(client_data), "attestationObject": b64u(obj)}}}
        return self.post("/v1/registration", body)

    def test_a_tpm_key_is_registered_as_tpm_certified(self):
        rc, reg = self.h.json("rp", "register", "--user", "tina", "--token", "tpm2", "--application-label", "rp-tpm",
                              "--server", self.srv.origin, timeout=120)
        self.assertEqual((rc, reg.get("status")), (0, "registered"), reg)
        # Another customer: this enclave's credential for tina would be excluded from a second one.
        rc, soft = self.h.json("rp", "register", "--user", "tilda", "--application-label", "rp-soft",
                               "--server", self.srv.origin, timeout=120)
        self.assertEqual((rc, soft.get("status")), (0, "registered"), soft)
        self.assertEqual([(c["credential_id"], c["attestation"]) for c in self.srv.credentials("tina")],
                         [(reg["credential_id"], "tpm2-certify")])
        self.assertEqual([(c["credential_id"], c["attestation"]) for c in self.srv.credentials("tilda")],
                         [(soft["credential_id"], "self")])
        rc, lg = self.h.json("rp", "login", "--user", "tina", "--server", self.srv.origin, timeout=120)
        self.assertEqual((rc, lg.get("status")), (0, "ok"), lg)

    def test_an_altered_or_replayed_tpm_certification_is_refused(self):
        # One customer per registration: the enclave excludes a second credential for one.
        # The re-signing itself is sound: the same registration, re-signed, is accepted.
        cred = self.create("tom-0", "tpm-0")
        st, ok = self.resubmit(cred, "tpm-0", b64d(cred["response"]["clientDataJSON"]))
        self.assertEqual((st, ok.get("status")), (200, "registered"), ok)

        def flip(certify):  # the last byte of the TPMS_ATTEST the TPM signed
            certify[1] = certify[1][:-1] + bytes([certify[1][-1] ^ 1])
            return certify

        cred = self.create("tom-1", "tpm-1")
        st, out = self.resubmit(cred, "tpm-1", b64d(cred["response"]["clientDataJSON"]), alter=flip)
        self.assertEqual((st, out["error"]["reason"]), (400, "attestation-invalid"), out)
        self.assertIn("signature", out["error"]["message"])
        # A certification made for one ceremony, presented in another (a fresh challenge).
        cred = self.create("tom-2", "tpm-2")
        st, out = self.resubmit(cred, "tpm-2", self.client_data("tom-2"))
        self.assertEqual((st, out["error"]["reason"]), (400, "attestation-invalid"), out)
        self.assertIn("qualifying data", out["error"]["message"])
        # An extension that is not the format's map.
        cred = self.create("tom-3", "tpm-3")
        st, out = self.resubmit(cred, "tpm-3", b64d(cred["response"]["clientDataJSON"]), alter=lambda certify: 1)
        self.assertEqual((st, out["error"]["reason"]), (400, "malformed"), out)
        self.assertEqual([c["attestation"] for c in self.srv.credentials("tom-0")], ["tpm2-certify"])


if __name__ == "__main__":
    unittest.main()
