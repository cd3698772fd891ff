/* libenclave's WebAuthn and relying-party calls (docs/c-api.md, "WebAuthn"): the enclave as a
 * platform authenticator, and a customer's ceremonies against enclave-rpd (docs/rp.md).
 *
 * JSON in and out: options are the relying party's PublicKeyCredentialCreationOptions /
 * RequestOptions (WebAuthn L3 JSON, binary fields base64url); results are NUL-terminated JSON
 * texts freed with enclave_free. The relying-party calls talk HTTP(S) from the calling process
 * (libcurl, opened on first use), never from the daemon; requests on the handle wait meanwhile.
 * Errors: the enclave's (a dead key is CryptoTokenKit -3, as for enclave_key_sign), or domain
 * "RelyingParty" with the HTTP status as code and the server's reason as cause (code 0, cause
 * server-unreachable when no answer came).
 */
#ifndef ENCLAVE_WEBAUTHN_H
#define ENCLAVE_WEBAUTHN_H

#include "enclave/enclave.h"

#ifdef __cplusplus
extern "C" {
#endif

/* navigator.credentials.create: a new P-256 key for the options' user, its registration as a
 * PublicKeyCredential JSON (packed self-attestation, the device-key proof). spec (NULL: the
 * defaults) may set "application_label" (default the user handle), "label", "access_group",
 * "token", "accessible" (default when-unlocked-this-device-only) and "access_control" (default
 * biometry-any,private-key-usage when the relying party requires user verification, else
 * private-key-usage). ctx (NULL: none) carries a passcode or forbids prompts. */
ENCLAVE_API int enclave_webauthn_create(enclave* e, const char* options_json, const char* origin,
                                        const enclave_attrs* spec, enclave_context* ctx, char** credential_json,
                                        enclave_error** err);
/* navigator.credentials.get: an assertion PublicKeyCredential JSON by the first credential of
 * allowCredentials this enclave holds, after the key's access control (prompt names the RP id). */
ENCLAVE_API int enclave_webauthn_get(enclave* e, const char* options_json, const char* origin,
                                     enclave_context* ctx, char** assertion_json, enclave_error** err);

/* `enclave rp register`: server is the relying party's base URL; ca_file a PEM bundle (NULL: the
 * system's CAs). *answer_json: the server's answer {"user","credential_id","status",...}. */
ENCLAVE_API int enclave_rp_register(enclave* e, const char* server, const char* user, const enclave_attrs* spec,
                                    const char* ca_file, enclave_context* ctx, char** answer_json,
                                    enclave_error** err);
/* `enclave rp login`: {"user","credential_id","status":"ok",...}. */
ENCLAVE_API int enclave_rp_login(enclave* e, const char* server, const char* user, const char* ca_file,
                                 enclave_context* ctx, char** answer_json, enclave_error** err);
/* `enclave rp reenroll`: replaces the credential key `query` selects and registers the new one
 * with a proof naming the old credential ({"status":"rebound",...} when the server accepts it).
 * user: NULL for the customer the credential was registered for. */
ENCLAVE_API int enclave_rp_reenroll(enclave* e, const char* server, const enclave_attrs* query, const char* user,
                                    const char* ca_file, enclave_context* ctx, char** answer_json,
                                    enclave_error** err);

#ifdef __cplusplus
}
#endif

#endif /* ENCLAVE_WEBAUTHN_H */
