"""enclave: Python binding of libenclave.so.0 (ctypes, no build step).

    import enclave
    e = enclave.open()
    k = e.create_key(application_label=b"unique label", accessible="when-unlocked-this-device-only",
                     access_control=["biometry-any", "private-key-usage"])
    sig = k.sign("ecdsa-signature-message-x962-sha256", b"data", prompt="Verify your identity")

Failures raise enclave.Error with .domain .code .cause .permanence .remedy .prompted. Names of
attributes, algorithms and errors are the CLI's (docs/c-api.md). The library is $ENCLAVE_LIBRARY
when set, else libenclave.so.0 as the dynamic linker finds it.
"""
import ctypes
import json
import os

from ._lib import lib as _lib, check as _check, take_bytes as _take_bytes, take_text as _take_text, Error

__all__ = ["open", "Enclave", "Key", "Context", "Error", "version"]


def version():
    return _lib().enclave_version().decode()


def _attrs(**kwargs):
    """An enclave_attrs handle from keyword arguments (None values are left out)."""
    h = _lib().enclave_attrs_new()
    if not h:
        raise MemoryError("enclave_attrs_new")
    try:
        for name, value in kwargs.items():
            if value is None:
                continue
            if isinstance(value, bool):
                value = b"true" if value else b"false"
            elif isinstance(value, (list, tuple)):
                value = ",".join(value).encode()
            elif isinstance(value, str):
                value = value.encode()
            value = bytes(value)
            if _lib().enclave_attrs_set(h, name.encode(), value, len(value)) != 0:
                raise ValueError(f"bad attribute {name}={value!r}")
    except BaseException:
        _lib().enclave_attrs_free(h)
        raise
    return h


class _Attrs:
    def __init__(self, **kwargs):
        self.h = _attrs(**kwargs)

    def __enter__(self):
        return self.h

    def __exit__(self, *exc):
        _lib().enclave_attrs_free(self.h)


class Context:
    """An authentication context (LAContext): reuse an authentication for reuse_seconds, pass a
    passcode, or forbid prompts. Use it with the context= argument of a key's operations."""

    def __init__(self, enclave, reuse_seconds=0, interaction_allowed=True, passcode=None,
                 application_password=None):
        h = ctypes.c_void_p()
        _check(lambda err: _lib().enclave_context_create(enclave._h, reuse_seconds, ctypes.byref(h), err))
        self._h = h
        self._set("interaction_allowed", b"true" if interaction_allowed else b"false")
        if passcode is not None:
            self._set("passcode", passcode)
        if application_password is not None:
            self._set("application_password", application_password)

    def _set(self, name, value):
        value = value.encode() if isinstance(value, str) else bytes(value)
        if _lib().enclave_context_set(self._h, name.encode(), value, len(value)) != 0:
            raise ValueError(f"bad context option {name}")

    def invalidate(self):
        _check(lambda err: _lib().enclave_context_invalidate(self._h, err))

    def __del__(self):
        h, self._h = getattr(self, "_h", None), None
        if h and _lib:
            _lib().enclave_context_free(h)


def _ctx(context):
    return context._h if context is not None else None


class Key:
    """A key item: its attributes and the private-key operations (done by the daemon)."""

    def __init__(self, handle):
        self._h = handle  # owned: released when this object goes

    def __del__(self):
        h, self._h = getattr(self, "_h", None), None
        if h and _lib:
            _lib().enclave_key_release(h)

    def __repr__(self):
        return f"<enclave.Key {self.kid}>"

    @property
    def kid(self):
        return _lib().enclave_key_kid(self._h).decode()

    @property
    def label(self):
        return _lib().enclave_key_label(self._h).decode()

    @property
    def public_key(self):
        """The X9.63 public key (65 bytes)."""
        return _take_bytes(lambda out, n, err: _lib().enclave_key_copy_public_key(self._h, out, n, err))

    @property
    def attributes(self):
        """Every attribute, as the CLI's JSON (`enclave key show --json`)."""
        return json.loads(_take_text(lambda out, err: _lib().enclave_key_copy_attributes(self._h, out, err)))

    def sign(self, algorithm, data, prompt=None, context=None):
        data = bytes(data)
        return _take_bytes(lambda out, n, err: _lib().enclave_key_sign_with_context(
            self._h, algorithm.encode(), data, len(data), _opt(prompt), _ctx(context), out, n, err))

    def decrypt(self, algorithm, ciphertext, prompt=None, context=None):
        ciphertext = bytes(ciphertext)
        return _take_bytes(lambda out, n, err: _lib().enclave_key_decrypt(
            self._h, algorithm.encode(), ciphertext, len(ciphertext), _opt(prompt), _ctx(context), out, n, err))

    def key_exchange(self, algorithm, peer_public_key, requested_size=0, shared_info=b"", prompt=None,
                     context=None):
        peer, info = bytes(peer_public_key), bytes(shared_info)
        return _take_bytes(lambda out, n, err: _lib().enclave_key_exchange(
            self._h, algorithm.encode(), peer, len(peer), requested_size, info, len(info), _opt(prompt),
            _ctx(context), out, n, err))

    def reenroll(self, prompt=None, context=None):
        """Replaces this (dead) key; returns (new Key, rotation statement bytes or None)."""
        new = ctypes.c_void_p()
        stmt = ctypes.POINTER(ctypes.c_uint8)()
        n = ctypes.c_size_t()
        _check(lambda err: _lib().enclave_key_reenroll(self._h, _opt(prompt), _ctx(context), ctypes.byref(new),
                                                       ctypes.byref(stmt), ctypes.byref(n), err))
        statement = None
        if stmt:
            statement = ctypes.string_at(stmt, n.value)
            _lib().enclave_free(stmt)
        return Key(new), statement


def _opt(s):
    return s.encode() if s is not None else None


class Enclave:
    """A connection to the daemon (a session): non-permanent keys and contexts live as long as it."""

    def __init__(self, home=None):
        h = ctypes.c_void_p()
        _check(lambda err: _lib().enclave_open(_opt(os.fspath(home)) if home is not None else None,
                                               ctypes.byref(h), err))
        self._h = h

    def close(self):
        h, self._h = getattr(self, "_h", None), None
        if h and _lib:
            _lib().enclave_close(h)

    __del__ = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def create_key(self, application_label=None, label=None, application_tag=None, accessible=None,
                   access_control=None, token=None, access_group=None, permanent=None, can_sign=None,
                   can_derive=None, can_decrypt=None, application_password=None, ssh=None):
        out = ctypes.c_void_p()
        with _Attrs(label=label, application_label=application_label, application_tag=application_tag,
                    accessible=accessible, access_control=access_control, token=token, access_group=access_group,
                    permanent=permanent, can_sign=can_sign, can_derive=can_derive, can_decrypt=can_decrypt,
                    application_password=application_password, ssh=ssh) as spec:
            _check(lambda err: _lib().enclave_key_create(self._h, spec, ctypes.byref(out), err))
        return Key(out)

    def find_key(self, **query):
        """The first key matching the query; none raises Error (OSStatus -25300, item-not-found)."""
        out = ctypes.c_void_p()
        with _Attrs(**query) as q:
            _check(lambda err: _lib().enclave_key_copy_matching(self._h, q, ctypes.byref(out), err))
        return Key(out)

    def find_keys(self, **query):
        """Every key matching the query (no arguments: all keys); none is an empty list."""
        out = ctypes.c_void_p()
        with _Attrs(**query) as q:
            _check(lambda err: _lib().enclave_key_copy_all_matching(self._h, q, ctypes.byref(out), err))
        try:
            n = _lib().enclave_key_list_count(out)
            return [Key(ctypes.c_void_p(_lib().enclave_key_retain(_lib().enclave_key_list_get(out, i))))
                    for i in range(n)]
        finally:
            _lib().enclave_key_list_free(out)

    def update_keys(self, query, **changes):
        """Changes label, application_tag or can_* of every key matching the query (a dict)."""
        n = ctypes.c_size_t()
        with _Attrs(**query) as q, _Attrs(**changes) as c:
            _check(lambda err: _lib().enclave_key_update(self._h, q, c, ctypes.byref(n), err))
        return n.value

    def delete_keys(self, **query):
        n = ctypes.c_size_t()
        with _Attrs(**query) as q:
            _check(lambda err: _lib().enclave_key_delete(self._h, q, ctypes.byref(n), err))
        return n.value

    def context(self, reuse_seconds=0, **options):
        return Context(self, reuse_seconds, **options)

    def doctor(self):
        return json.loads(_take_text(lambda out, err: _lib().enclave_doctor(self._h, out, err)))

    def set_app(self, app_id, app_version):
        """The app's id and version, sent with fleet reports when the user turned them on
        (docs/fleet.md); None or "" clears one."""
        _check(lambda err: _lib().enclave_set_app(self._h, _opt(app_id), _opt(app_version), err))

    # ---- WebAuthn (include/enclave/webauthn.h): options and results are dicts of WebAuthn L3 JSON.

    def webauthn_create(self, options, origin, context=None, **spec):
        """navigator.credentials.create: a new credential key; returns the PublicKeyCredential.
        spec: application_label, label, access_group, token, accessible, access_control."""
        text = json.dumps(options).encode()
        with _Attrs(**spec) as a:
            return json.loads(_take_text(lambda out, err: _lib().enclave_webauthn_create(
                self._h, text, origin.encode(), a, _ctx(context), out, err)))

    def webauthn_get(self, options, origin, context=None):
        """navigator.credentials.get: the assertion PublicKeyCredential."""
        text = json.dumps(options).encode()
        return json.loads(_take_text(lambda out, err: _lib().enclave_webauthn_get(
            self._h, text, origin.encode(), _ctx(context), out, err)))

    def rp_register(self, server, user, ca_file=None, context=None, **spec):
        """`enclave rp register`: the relying party's answer ({"status": "registered", ...})."""
        with _Attrs(**spec) as a:
            return json.loads(_take_text(lambda out, err: _lib().enclave_rp_register(
                self._h, server.encode(), user.encode(), a, _opt(ca_file), _ctx(context), out, err)))

    def rp_login(self, server, user, ca_file=None, context=None):
        """`enclave rp login`: the relying party's answer ({"status": "ok", ...})."""
        return json.loads(_take_text(lambda out, err: _lib().enclave_rp_login(
            self._h, server.encode(), user.encode(), _opt(ca_file), _ctx(context), out, err)))

    def rp_reenroll(self, server, user=None, ca_file=None, context=None, **query):
        """`enclave rp reenroll` of the credential key the query selects ({"status": "rebound", ...})."""
        with _Attrs(**query) as q:
            return json.loads(_take_text(lambda out, err: _lib().enclave_rp_reenroll(
                self._h, server.encode(), q, _opt(user), _opt(ca_file), _ctx(context), out, err)))


def open(home=None):  # noqa: A001 (the binding's entry point, as in the issue)
    return Enclave(home)
