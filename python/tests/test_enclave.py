"""The Python binding over the real daemon: the field report's flow, errors, the other operations."""
import json
import os
import subprocess

import pytest

import enclave

SIGN = "ecdsa-signature-message-x962-sha256"
FIELD = dict(application_label=b"unique label", accessible="when-unlocked-this-device-only",
             access_control=["biometry-any", "private-key-usage"])
# SubjectPublicKeyInfo header of an uncompressed P-256 point (RFC 5480).
SPKI_P256 = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")


def openssl(*args, stdin=None):
    r = subprocess.run(["openssl", *args], input=stdin, capture_output=True, timeout=60)
    return r.returncode, r.stdout, r.stderr


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def verify(tmp, x963, data, sig):
    pub = write(os.path.join(tmp, "pub.der"), SPKI_P256 + x963)
    rc, out, err = openssl("dgst", "-sha256", "-keyform", "DER", "-verify", pub, "-signature",
                           write(os.path.join(tmp, "sig"), sig), write(os.path.join(tmp, "data"), data))
    return rc == 0 and b"Verified OK" in out


def test_field_flow_create_find_sign_verify(e, home):
    created = e.create_key(**FIELD)
    key = e.find_key(application_label=b"unique label")
    assert key.kid == created.kid
    data = b"challenge from the relying party"
    sig = key.sign(SIGN, data, prompt="Verify your identity")
    assert verify(home[2], key.public_key, data, sig)
    assert not verify(home[2], key.public_key, data + b"!", sig)
    attrs = key.attributes
    assert attrs["accessible"] == "when-unlocked-this-device-only"
    assert attrs["access_control"] == ["biometry-any", "private-key-usage"]
    assert attrs["application_label"] == "unique label"


def test_not_found_raises_item_not_found(e):
    with pytest.raises(enclave.Error) as info:
        e.find_key(application_label=b"nobody")
    err = info.value
    assert (err.domain, err.code, err.cause, err.permanence, err.remedy) == \
        ("OSStatus", -25300, "item-not-found", "none", "none")
    assert err.prompted is False


def test_dead_key_after_biometry_reset_then_reenroll(e, home):
    _, cli, tmp = home
    key = e.create_key(**FIELD)
    cli("biometry", "reset")
    cli("biometry", "enroll", "--finger", "right-thumb")
    with pytest.raises(enclave.Error) as info:
        key.sign(SIGN, b"data", prompt="Verify your identity")
    err = info.value
    assert (err.domain, err.code, err.cause, err.permanence, err.remedy, err.prompted) == \
        ("CryptoTokenKit", -3, "biometry-database-reset", "permanent", "reenroll", False)
    assert err.user_info.get("AKSError") == -536362999
    verdicts = {k["kid"]: k["verdict"] for k in e.doctor()["keys"]}
    assert verdicts[key.kid] == "permanently-invalid"
    new, statement = key.reenroll(prompt="Verify your identity")
    assert new.kid != key.kid and statement is None
    sig = new.sign(SIGN, b"data", prompt="Verify your identity")
    assert verify(tmp, new.public_key, b"data", sig)
    assert e.find_key(application_label=b"unique label").kid == new.kid


def test_biometry_no_match_is_prompted_authentication_failure(e, home):
    key = e.create_key(**FIELD)
    home[1]("biometry", "no-match")
    with pytest.raises(enclave.Error) as info:
        key.sign(SIGN, b"data", prompt="Verify your identity")
    assert info.value.domain == "LocalAuthentication" and info.value.prompted is True


def test_list_update_delete(e):
    a = e.create_key(label="work", application_label=b"a")
    b = e.create_key(label="work", application_label=b"b")
    assert {k.kid for k in e.find_keys(label="work")} == {a.kid, b.kid}
    assert e.update_keys({"label": "work"}, label="home") == 2
    assert e.find_keys(label="work") == []
    assert e.find_key(application_label=b"a").label == "home"
    assert e.delete_keys(label="home") == 2
    assert e.find_keys() == []


def test_misplaced_attribute_is_bad_parameter(e):
    with pytest.raises(enclave.Error) as info:
        e.find_key(accessible="when-unlocked")
    assert (info.value.code, info.value.cause) == (-50, "bad-parameter")
    with pytest.raises(ValueError):
        e.create_key(permanent="maybe")


def test_decrypt_ecies_from_the_cli(e, home):
    _, cli, tmp = home
    key = e.create_key(application_label=b"box")
    alg = "ecies-encryption-cofactor-variable-iv-x963-sha256-aes-gcm"
    pub = write(os.path.join(tmp, "box.der"), SPKI_P256 + key.public_key)
    plain = write(os.path.join(tmp, "plain"), b"a secret message")
    ct = os.path.join(tmp, "ct")
    cli("encrypt", "--public-key", pub, "--algorithm", alg, "--in", plain, "--out", ct)
    assert key.decrypt(alg, open(ct, "rb").read()) == b"a secret message"


def test_key_exchange_matches_openssl(e, home):
    tmp = home[2]
    key = e.create_key(application_label=b"dh")
    peer = os.path.join(tmp, "peer.pem")
    assert openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", peer)[0] == 0
    rc, peer_der, _ = openssl("pkey", "-in", peer, "-pubout", "-outform", "DER")
    assert rc == 0
    ours = write(os.path.join(tmp, "ours.der"), SPKI_P256 + key.public_key)
    rc, expected, err = openssl("pkeyutl", "-derive", "-inkey", peer, "-peerkey", ours, "-peerform", "DER")
    assert rc == 0, err
    assert key.key_exchange("ecdh-key-exchange-standard", peer_der) == expected
    derived = key.key_exchange("ecdh-key-exchange-standard-x963-sha256", peer_der, requested_size=32,
                               shared_info=b"info")
    assert len(derived) == 32 and derived != expected[:32]


def test_context_without_interaction_and_invalidated(e):
    key = e.create_key(**FIELD)
    quiet = e.context(interaction_allowed=False)
    with pytest.raises(enclave.Error) as info:
        key.sign(SIGN, b"data", prompt="Verify your identity", context=quiet)
    assert info.value.code == -25308 and info.value.prompted is False
    ctx = e.context(reuse_seconds=30)
    key.sign(SIGN, b"data", prompt="Verify your identity", context=ctx)
    ctx.invalidate()
    with pytest.raises(enclave.Error) as info:
        key.sign(SIGN, b"data", prompt="Verify your identity", context=ctx)
    assert (info.value.domain, info.value.code) == ("LocalAuthentication", -10)


def test_non_permanent_key_lives_with_its_handle(e, home):
    key = e.create_key(application_label=b"session", permanent=False)
    assert e.find_key(application_label=b"session").kid == key.kid
    with enclave.open() as other:
        with pytest.raises(enclave.Error) as info:
            other.find_key(application_label=b"session")
        assert info.value.code == -25300
    assert len(key.sign(SIGN, b"data")) > 60


def test_reconnects_after_the_daemon_restarts(e, home):
    key = e.create_key(application_label=b"kept")
    home[1]("daemon", "stop")
    # The client replaces a connection closed while idle; if a call still meets the closed one,
    # it reports the loss once and the next call connects again.
    try:
        sig = key.sign(SIGN, b"data")
    except enclave.Error as err:
        assert err.cause == "daemon-unavailable"
        sig = key.sign(SIGN, b"data")
    assert len(sig) > 60


def test_ssh_attribute_in_spec_query_and_changes(e):
    offered = e.create_key(application_label=b"ssh", ssh=True)
    e.create_key(application_label=b"plain")
    assert [k.kid for k in e.find_keys(ssh=True)] == [offered.kid]
    assert e.update_keys({"kid": offered.kid}, ssh=False) == 1
    assert e.find_keys(ssh=True) == []


def config(home, key):
    return json.loads(home[1]("config", "get", key, "--json").stdout)["value"]


def test_set_app_is_what_fleet_reports_carry(e, home):
    e.set_app("com.example.bank", "4.2.1+build.7")
    assert config(home, "app-id") == "com.example.bank"
    assert config(home, "app-version") == "4.2.1+build.7"
    # No free text: the schema's character set only.
    with pytest.raises(enclave.Error) as info:
        e.set_app("my bank app", None)
    assert info.value.code == -50
    e.set_app(None, None)
    assert config(home, "app-id") == ""
