"""The binding's WebAuthn and relying-party calls over the real daemon: a registration and an
assertion that python-fido2 accepts, errors as enclave.Error, and the rp flows against the
python-fido2 stand-in relying party of the end-to-end tests (tests/webauthn_standin.py)."""
import base64
import os
import sys

import pytest

import enclave

fido2 = pytest.importorskip("fido2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests"))
from webauthn_standin import StandinRP, jsonable  # noqa: E402


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


@pytest.fixture
def server():
    from fido2.server import Fido2Server
    return Fido2Server({"id": "example.com", "name": "Example"}, attestation="direct")


def test_create_and_get_are_accepted_by_fido2(e, server):
    from fido2.client import ClientData
    from fido2.ctap2 import AttestationObject, AuthenticatorData
    opts, state = server.register_begin({"id": b"py-user", "name": "py", "displayName": "Py"},
                                        user_verification="required")
    cred = e.webauthn_create(jsonable(opts["publicKey"]), "https://example.com", label="python")
    ad = server.register_complete(state, ClientData(b64d(cred["response"]["clientDataJSON"])),
                                  AttestationObject(b64d(cred["response"]["attestationObject"])))
    assert e.find_key(application_label=b"py-user").label == "python"
    ropts, rstate = server.authenticate_begin([ad.credential_data], user_verification="required")
    a = e.webauthn_get(jsonable(ropts["publicKey"]), "https://example.com")
    r = a["response"]
    server.authenticate_complete(rstate, [ad.credential_data], b64d(a["rawId"]), ClientData(b64d(r["clientDataJSON"])),
                                 AuthenticatorData(b64d(r["authenticatorData"])), b64d(r["signature"]))


def test_errors_are_enclave_errors(e, server):
    ropts, _ = server.authenticate_begin([], user_verification="required")
    with pytest.raises(enclave.Error) as info:
        e.webauthn_get(dict(jsonable(ropts["publicKey"]), allowCredentials=[{"type": "public-key", "id": "AAAA"}]),
                       "https://example.com")
    assert info.value.code == -25300
    with pytest.raises(enclave.Error) as info:
        e.webauthn_create({"challenge": "x"}, "https://example.com", application_tag=b"mine")
    assert info.value.code == -50
    with pytest.raises(enclave.Error) as info:
        e.rp_login("http://127.0.0.1:1", "nobody")
    assert (info.value.domain, info.value.cause) == ("RelyingParty", "server-unreachable")


def test_rp_register_login_reenroll(e, home):
    _, cli, _ = home
    rp = StandinRP("localhost", [])
    try:
        url = f"http://localhost:{rp.port}"
        rp.origins.append(url)
        assert e.rp_register(url, "alice", application_label=b"py-alice")["status"] == "registered"
        assert e.rp_login(url, "alice")["status"] == "ok"
        cli("biometry", "reset")
        cli("biometry", "enroll", "--finger", "right-thumb")
        cli("biometry", "match")
        with pytest.raises(enclave.Error) as info:
            e.rp_login(url, "alice")
        assert info.value.cause == "biometry-database-reset"
        answer = e.rp_reenroll(url, application_label=b"py-alice")
        assert answer["status"] == "rebound"
        assert e.rp_login(url, "alice")["credential_id"] == answer["credential_id"]
    finally:
        rp.close()
