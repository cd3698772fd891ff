"""Loading libenclave.so.0 and the C signatures; errors become enclave.Error here."""
import ctypes
import json
import os
import threading

_P = ctypes.c_void_p
_S = ctypes.c_char_p
_SZ = ctypes.c_size_t
_BUF = ctypes.POINTER(ctypes.POINTER(ctypes.c_uint8))
_PSZ = ctypes.POINTER(ctypes.c_size_t)
_ERR = ctypes.POINTER(ctypes.c_void_p)
_int = ctypes.c_int

# name: (restype, argtypes)
_SIGNATURES = {
    "enclave_version": (_S, []),
    "enclave_open": (_int, [_S, ctypes.POINTER(_P), _ERR]),
    "enclave_close": (None, [_P]),
    "enclave_attrs_new": (_P, []),
    "enclave_attrs_set": (_int, [_P, _S, ctypes.c_char_p, _SZ]),
    "enclave_attrs_free": (None, [_P]),
    "enclave_key_create": (_int, [_P, _P, ctypes.POINTER(_P), _ERR]),
    "enclave_key_copy_matching": (_int, [_P, _P, ctypes.POINTER(_P), _ERR]),
    "enclave_key_copy_all_matching": (_int, [_P, _P, ctypes.POINTER(_P), _ERR]),
    "enclave_key_list_count": (_SZ, [_P]),
    "enclave_key_list_get": (_P, [_P, _SZ]),
    "enclave_key_list_free": (None, [_P]),
    "enclave_key_update": (_int, [_P, _P, _P, _PSZ, _ERR]),
    "enclave_key_delete": (_int, [_P, _P, _PSZ, _ERR]),
    "enclave_key_kid": (_S, [_P]),
    "enclave_key_label": (_S, [_P]),
    "enclave_key_copy_public_key": (_int, [_P, _BUF, _PSZ, _ERR]),
    "enclave_key_copy_attributes": (_int, [_P, ctypes.POINTER(_P), _ERR]),
    "enclave_key_retain": (_P, [_P]),
    "enclave_key_release": (None, [_P]),
    "enclave_key_sign_with_context": (_int, [_P, _S, ctypes.c_char_p, _SZ, _S, _P, _BUF, _PSZ, _ERR]),
    "enclave_key_decrypt": (_int, [_P, _S, ctypes.c_char_p, _SZ, _S, _P, _BUF, _PSZ, _ERR]),
    "enclave_key_exchange": (_int, [_P, _S, ctypes.c_char_p, _SZ, _SZ, ctypes.c_char_p, _SZ, _S, _P, _BUF, _PSZ,
                                    _ERR]),
    "enclave_key_reenroll": (_int, [_P, _S, _P, ctypes.POINTER(_P), _BUF, _PSZ, _ERR]),
    "enclave_context_create": (_int, [_P, _int, ctypes.POINTER(_P), _ERR]),
    "enclave_context_set": (_int, [_P, _S, ctypes.c_char_p, _SZ]),
    "enclave_context_invalidate": (_int, [_P, _ERR]),
    "enclave_context_free": (None, [_P]),
    "enclave_doctor": (_int, [_P, ctypes.POINTER(_P), _ERR]),
    "enclave_set_app": (_int, [_P, _S, _S, _ERR]),
    "enclave_webauthn_create": (_int, [_P, _S, _S, _P, _P, ctypes.POINTER(_P), _ERR]),
    "enclave_webauthn_get": (_int, [_P, _S, _S, _P, ctypes.POINTER(_P), _ERR]),
    "enclave_rp_register": (_int, [_P, _S, _S, _P, _S, _P, ctypes.POINTER(_P), _ERR]),
    "enclave_rp_login": (_int, [_P, _S, _S, _S, _P, ctypes.POINTER(_P), _ERR]),
    "enclave_rp_reenroll": (_int, [_P, _S, _P, _S, _S, _P, ctypes.POINTER(_P), _ERR]),
    "enclave_free": (None, [_P]),
    "enclave_error_domain": (_S, [_P]),
    "enclave_error_code": (ctypes.c_long, [_P]),
    "enclave_error_description": (_S, [_P]),
    "enclave_error_cause": (_S, [_P]),
    "enclave_error_permanence": (_S, [_P]),
    "enclave_error_remedy": (_S, [_P]),
    "enclave_error_prompted": (_int, [_P]),
    "enclave_error_json": (_S, [_P]),
    "enclave_error_free": (None, [_P]),
}

_loaded = None
_lock = threading.Lock()


def lib():
    """libenclave, loaded on first use: $ENCLAVE_LIBRARY (a build tree), else libenclave.so.0
    through the dynamic linker (LD_LIBRARY_PATH, the installed library)."""
    global _loaded
    with _lock:
        if _loaded is None:
            d = ctypes.CDLL(os.environ.get("ENCLAVE_LIBRARY") or "libenclave.so.0")
            for name, (res, args) in _SIGNATURES.items():
                f = getattr(d, name)
                f.restype, f.argtypes = res, args
            _loaded = d
        return _loaded


class Error(Exception):
    """A failed enclave call: the platform's domain and code, the catalog's cause, permanence and
    remedy, and whether the user was prompted before the failure."""

    def __init__(self, domain, code, description, cause, permanence, remedy, prompted, user_info=None):
        super().__init__(f"{domain} {code}: {description} (cause {cause}, {permanence}, remedy {remedy})")
        self.domain, self.code, self.description = domain, code, description
        self.cause, self.permanence, self.remedy, self.prompted = cause, permanence, remedy, prompted
        self.user_info = user_info or {}


def _error_from(h):
    L = lib()
    try:
        full = json.loads(L.enclave_error_json(h).decode())
    except ValueError:
        full = {}
    return Error(L.enclave_error_domain(h).decode(), int(L.enclave_error_code(h)),
                 L.enclave_error_description(h).decode(), L.enclave_error_cause(h).decode(),
                 L.enclave_error_permanence(h).decode(), L.enclave_error_remedy(h).decode(),
                 bool(L.enclave_error_prompted(h)), full.get("user_info"))


def check(call):
    """Runs call(err_ptr); a -1 return raises the library's error as enclave.Error."""
    err = ctypes.c_void_p()
    if call(ctypes.byref(err)) == 0:
        return
    if not err:
        raise Error("OSStatus", -26276, "the call failed without an error", "internal", "permanent", "report", False)
    try:
        raise _error_from(err)
    finally:
        lib().enclave_error_free(err)


def take_bytes(call):
    """Runs call(out, len, err) and returns the library's buffer as bytes (freed here)."""
    out = ctypes.POINTER(ctypes.c_uint8)()
    n = ctypes.c_size_t()
    check(lambda err: call(ctypes.byref(out), ctypes.byref(n), err))
    try:
        return ctypes.string_at(out, n.value)
    finally:
        lib().enclave_free(out)


def take_text(call):
    """Runs call(out, err) for a NUL-terminated text the library allocates."""
    out = ctypes.c_void_p()
    check(lambda err: call(ctypes.byref(out), err))
    try:
        return ctypes.string_at(out).decode()
    finally:
        lib().enclave_free(out)
