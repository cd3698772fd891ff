// Attestation objects (WebAuthn L3 §6.5): the CBOR map {"fmt", "attStmt", "authData"}, with the
// formats `none` and `packed` (§8.2; self attestation, or an x5c certificate).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "webauthn/authenticator_data.h"

namespace enclave::webauthn {

inline constexpr char kFmtNone[] = "none";
inline constexpr char kFmtPacked[] = "packed";

// In CTAP2 canonical key order (fmt, attStmt, authData); `att_stmt` is the statement's CBOR.
std::vector<uint8_t> EncodeAttestationObject(std::string_view fmt, std::span<const uint8_t> att_stmt,
                                             std::span<const uint8_t> auth_data);
// {} for `none`.
std::vector<uint8_t> EncodeNoneStatement();
// {"alg": -7, "sig": der_sig}: packed self attestation, signed by the credential's own key over
// authData ‖ SHA-256(clientDataJSON).
std::vector<uint8_t> EncodePackedSelfStatement(std::span<const uint8_t> der_sig);

struct AttestationObject {
  std::string fmt;
  std::vector<uint8_t> auth_data_bytes;  // as signed
  AuthenticatorData auth_data;
  // packed: the statement's fields (alg, sig, x5c certificates as DER)
  std::optional<int64_t> alg;
  std::vector<uint8_t> sig;
  std::vector<std::vector<uint8_t>> x5c;
};

// A map with exactly the three keys (fmt text, attStmt map, authData bytes that parse strictly).
// `none` must have an empty statement; `packed` exactly alg (integer), sig (bytes) and optional
// x5c (1..8 certificates); other formats are kept by name for VerifyAttestation to refuse.
// Reason `malformed`.
Result<AttestationObject> ParseAttestationObject(std::span<const uint8_t> cbor);

enum class AttestationType {
  kNone,   // fmt none: no statement about the authenticator
  kSelf,   // packed without x5c: signed by the credential key itself
  kBasic,  // packed with x5c: signed by a certificate's key (the chain is not judged here)
};
const char* AttestationTypeName(AttestationType t);

// §8.2's verification procedure for packed (and `none`): the attested credential must be there;
// self: alg equals the credential key's (-7) and sig verifies under it over authData ‖
// client_data_hash; x5c: sig verifies under the first certificate's P-256 key, which is a v3
// certificate with C, O, CN and OU "Authenticator Attestation", not a CA, and whose
// id-fido-gen-ce-aaguid extension (if present, not critical) equals the AAGUID. Reasons:
// `attestation-unsupported` (another fmt), `unsupported-algorithm`, `signature-invalid`,
// `attestation-invalid` (certificate checks), `malformed`.
Result<AttestationType> VerifyAttestation(const AttestationObject& att,
                                          std::span<const uint8_t> client_data_hash);

}  // namespace enclave::webauthn
