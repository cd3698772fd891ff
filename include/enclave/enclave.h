/* libenclave: the C API of enclave, a Secure-Enclave-style key service (docs/c-api.md).
 *
 * A thin layer over the client library: the daemon (enclaved, started on demand) does all key
 * work; this library holds handles, never key material. Names of attributes, algorithms and
 * errors are the CLI's JSON names (docs/cli.md, docs/errors.md).
 *
 * Conventions
 * - Functions returning int return 0 on success and -1 on failure; on failure *err is set to a
 *   new error (free it with enclave_error_free) when err is not NULL.
 * - Buffers and strings the library returns through uint8_t ** or char ** are freed with
 *   enclave_free.
 * - Thread safety: an enclave handle and its keys may be used from several threads at once;
 *   requests on one handle are serialized (one connection to the daemon). Use one handle per
 *   thread for parallel requests. enclave_attrs and enclave_context are builders: do not change
 *   one while another thread uses it. Errors and key lists are immutable.
 */
#ifndef ENCLAVE_ENCLAVE_H
#define ENCLAVE_ENCLAVE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ENCLAVE_API __attribute__((visibility("default")))
#else
#define ENCLAVE_API
#endif

typedef struct enclave enclave;                   /* a connection (a session) to the daemon */
typedef struct enclave_attrs enclave_attrs;       /* a key spec, a query or a set of changes */
typedef struct enclave_key enclave_key;           /* a reference to a key item (reference counted) */
typedef struct enclave_key_list enclave_key_list; /* the result of a query for all matches */
typedef struct enclave_context enclave_context;   /* LAContext-like authentication options */
typedef struct enclave_error enclave_error;       /* domain, code, cause, permanence, remedy */

/* For enclave_attrs_set and enclave_context_set: value is a NUL-terminated string. */
#define ENCLAVE_STRLEN ((size_t)-1)

/* The library's version, e.g. "0.1.0". */
ENCLAVE_API const char* enclave_version(void);

/* ---- Connection ------------------------------------------------------------------------- */

/* Connects to the daemon of the enclave home (NULL: $ENCLAVE_HOME, else $XDG_DATA_HOME/enclave,
 * else ~/.local/share/enclave), starting enclaved when nothing listens ($ENCLAVED, else the
 * installed one). Non-permanent keys and authentication contexts live as long as the handle. */
ENCLAVE_API int enclave_open(const char* home, enclave** out, enclave_error** err);
/* Closes the handle. Keys still referenced keep the connection open until they are released. */
ENCLAVE_API void enclave_close(enclave* e);

/* ---- Attributes --------------------------------------------------------------------------- */

ENCLAVE_API enclave_attrs* enclave_attrs_new(void);
/* Sets one attribute; value is len bytes (or a C string with ENCLAVE_STRLEN). Names:
 *   key specs and queries: "label", "application_label" (bytes), "application_tag" (bytes),
 *                          "access_group", "token" ("soft" | "tpm2")
 *   key specs:  "accessible" (e.g. "when-unlocked-this-device-only"), "access_control"
 *               (comma-separated flags, e.g. "biometry-any,private-key-usage"), "permanent",
 *               "can_sign", "can_derive", "can_decrypt" ("true"/"false"),
 *               "application_password" (for the application-password flag)
 *   queries:    "kid"
 *   all three:  "ssh" ("true"/"false": offered by the ssh agent)
 *   changes (enclave_key_update): "label", "application_tag", "can_sign", "can_derive",
 *               "can_decrypt"
 * Returns -1 for an unknown name or a malformed value. Where an attribute is used decides
 * whether it is allowed there: a spec attribute in a query is errSecParam (-50) at the call. */
ENCLAVE_API int enclave_attrs_set(enclave_attrs* attrs, const char* name, const void* value, size_t len);
ENCLAVE_API void enclave_attrs_free(enclave_attrs* attrs);

/* ---- Keys (SecKeyCreateRandomKey, SecItemCopyMatching, SecItemUpdate, SecItemDelete) ----- */

ENCLAVE_API int enclave_key_create(enclave* e, const enclave_attrs* spec, enclave_key** out,
                                   enclave_error** err);
/* The first key matching the query; none is OSStatus -25300 (errSecItemNotFound). */
ENCLAVE_API int enclave_key_copy_matching(enclave* e, const enclave_attrs* query, enclave_key** out,
                                          enclave_error** err);
/* Every key matching the query (an empty query matches all); none is an empty list, not an error. */
ENCLAVE_API int enclave_key_copy_all_matching(enclave* e, const enclave_attrs* query, enclave_key_list** out,
                                              enclave_error** err);
ENCLAVE_API size_t enclave_key_list_count(const enclave_key_list* list);
/* Borrowed from the list (valid until enclave_key_list_free); enclave_key_retain to keep it. */
ENCLAVE_API enclave_key* enclave_key_list_get(const enclave_key_list* list, size_t index);
ENCLAVE_API void enclave_key_list_free(enclave_key_list* list);
/* Changes label, application tag or usage flags of every matching key; *count (if not NULL)
 * receives how many changed. No match is errSecItemNotFound. */
ENCLAVE_API int enclave_key_update(enclave* e, const enclave_attrs* query, const enclave_attrs* changes,
                                   size_t* count, enclave_error** err);
/* Deletes every matching key (an empty query is refused); *count receives how many. */
ENCLAVE_API int enclave_key_delete(enclave* e, const enclave_attrs* query, size_t* count,
                                   enclave_error** err);

ENCLAVE_API const char* enclave_key_kid(const enclave_key* key);
ENCLAVE_API const char* enclave_key_label(const enclave_key* key);
/* The X9.63 public key (65 bytes for P-256), from the key's attributes. */
ENCLAVE_API int enclave_key_copy_public_key(enclave_key* key, uint8_t** x963, size_t* len,
                                            enclave_error** err);
/* All attributes as the CLI's JSON (`enclave key show --json`), NUL-terminated. */
ENCLAVE_API int enclave_key_copy_attributes(enclave_key* key, char** json, enclave_error** err);
ENCLAVE_API enclave_key* enclave_key_retain(enclave_key* key);
ENCLAVE_API void enclave_key_release(enclave_key* key);

/* ---- Private-key operations (SecKeyCreateSignature, ...DecryptedData, ...KeyExchangeResult) */

/* algorithm: the CLI's names, e.g. "ecdsa-signature-message-x962-sha256"; prompt: the operation
 * prompt shown when the key's access control asks the user (NULL: none). */
ENCLAVE_API int enclave_key_sign(enclave_key* key, const char* algorithm, const uint8_t* data, size_t len,
                                 const char* prompt, uint8_t** signature, size_t* signature_len,
                                 enclave_error** err);
/* As enclave_key_sign, with an authentication context (NULL: none). */
ENCLAVE_API int enclave_key_sign_with_context(enclave_key* key, const char* algorithm, const uint8_t* data,
                                              size_t len, const char* prompt, enclave_context* ctx,
                                              uint8_t** signature, size_t* signature_len,
                                              enclave_error** err);
/* ECIES, e.g. "ecies-encryption-cofactor-variable-iv-x963-sha256-aes-gcm". */
ENCLAVE_API int enclave_key_decrypt(enclave_key* key, const char* algorithm, const uint8_t* ciphertext,
                                    size_t len, const char* prompt, enclave_context* ctx, uint8_t** plaintext,
                                    size_t* plaintext_len, enclave_error** err);
/* ECDH ("ecdh-key-exchange-standard", "ecdh-key-exchange-standard-x963-sha256", ...) with a peer
 * public key (X9.63, SPKI DER or PEM); requested_size is the KDF's output size in bytes, needed by
 * the -x963- algorithms (0 for the raw algorithms). */
ENCLAVE_API int enclave_key_exchange(enclave_key* key, const char* algorithm, const uint8_t* peer_public_key,
                                     size_t peer_len, size_t requested_size, const uint8_t* shared_info,
                                     size_t shared_info_len, const char* prompt, enclave_context* ctx,
                                     uint8_t** secret, size_t* secret_len, enclave_error** err);

/* ---- Authentication contexts (LAContext) -------------------------------------------------- */

/* A context whose authentications are reused for reuse_seconds (at most 300; 0: never) across
 * operations with keys of the same enclave handle. */
ENCLAVE_API int enclave_context_create(enclave* e, int reuse_seconds, enclave_context** out,
                                       enclave_error** err);
/* Options: "interaction_allowed" ("true"/"false"; false fails where a prompt would be needed),
 * "passcode" (for device-passcode policies; without it they fail with errSecAuthNeeded -25330),
 * "application_password". Secrets are wiped when replaced or freed. */
ENCLAVE_API int enclave_context_set(enclave_context* ctx, const char* name, const void* value, size_t len);
/* Later use of the context is LocalAuthentication -10 (invalid context). */
ENCLAVE_API int enclave_context_invalidate(enclave_context* ctx, enclave_error** err);
ENCLAVE_API void enclave_context_free(enclave_context* ctx);

/* ---- Recovery and diagnosis ------------------------------------------------------------- */

/* Replaces a dead key by a new one with the same attributes (`enclave key reenroll`). *new_key
 * receives the new key; *statement (if not NULL) the rotation statement signed by the old key,
 * or NULL with *statement_len 0 when the old key could no longer sign. */
ENCLAVE_API int enclave_key_reenroll(enclave_key* key, const char* prompt, enclave_context* ctx,
                                     enclave_key** new_key, uint8_t** statement, size_t* statement_len,
                                     enclave_error** err);
/* The doctor report as JSON text (`enclave doctor --json`): a verdict, cause and remedy per key. */
ENCLAVE_API int enclave_doctor(enclave* e, char** json, enclave_error** err);
/* The app's id and version, sent with the enclave's fleet reports when the user turned them on
 * (docs/fleet.md; `enclave config set app-id|app-version`). Each is 1 to 64 of A-Z a-z 0-9 . _ + ~
 * : - (anything else is errSecParam -50), or NULL / "" to clear it. */
ENCLAVE_API int enclave_set_app(enclave* e, const char* app_id, const char* app_version, enclave_error** err);

/* ---- Memory and errors ------------------------------------------------------------------ */

ENCLAVE_API void enclave_free(void* p);

/* "OSStatus", "CryptoTokenKit", "LocalAuthentication", "AKS", "TPM" */
ENCLAVE_API const char* enclave_error_domain(const enclave_error* err);
ENCLAVE_API long enclave_error_code(const enclave_error* err);
ENCLAVE_API const char* enclave_error_description(const enclave_error* err);
/* Stable cause id from the error catalog, e.g. "item-not-found", "biometry-database-reset". */
ENCLAVE_API const char* enclave_error_cause(const enclave_error* err);
/* "transient" | "needs-user-action" | "permanent" | "none" */
ENCLAVE_API const char* enclave_error_permanence(const enclave_error* err);
/* "retry" | "unlock" | "authenticate" | ... | "reenroll" | "report" | "none" */
ENCLAVE_API const char* enclave_error_remedy(const enclave_error* err);
/* 1 when the user was shown a prompt before the failure, else 0. */
ENCLAVE_API int enclave_error_prompted(const enclave_error* err);
/* The whole error as the CLI's JSON (with user_info and the underlying error). */
ENCLAVE_API const char* enclave_error_json(const enclave_error* err);
ENCLAVE_API void enclave_error_free(enclave_error* err);

#ifdef __cplusplus
}
#endif

#endif /* ENCLAVE_ENCLAVE_H */
