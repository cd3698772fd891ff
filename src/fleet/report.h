// The fleet report wire format (docs/fleet.md, "Schema"): what a device sends to its relying party
// about its keys, a batch of such reports, and the envelope by which the device identity key signs
// a batch. Pure functions, no I/O: the device's sender and the server (src/rp) share them, so both
// sides accept and produce exactly the same bytes.
//
// The schema is closed: every field has a type, a maximum length and a character set, unknown keys
// are refused, and no field can hold free text (no labels, user ids, paths or messages).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace enclave::fleet {

// Reasons (each the Error's cause, stable, documented in docs/rp.md and docs/fleet.md).
inline constexpr char kSchemaInvalid[] = "schema-invalid";        // 400: the message names the field
inline constexpr char kBatchTooLarge[] = "batch-too-large";       // 413: > kMaxReports or kMaxBatchBytes
inline constexpr char kSignatureInvalid[] = "signature-invalid";  // 401: the envelope's signature

inline constexpr size_t kMaxReports = 1000;
// The biggest valid report serializes to under 3,600 bytes (two 1,023-byte credential ids); a
// thousand of them fit, with room to spare, in:
inline constexpr size_t kMaxBatchBytes = 4 * 1024 * 1024;
// The envelope carries the batch in base64url (4/3) plus the device key and the signature.
inline constexpr size_t kMaxEnvelopeBytes = kMaxBatchBytes / 3 * 4 + 16 * 1024;
inline constexpr size_t kMaxIdentifierBytes = 64;      // [A-Za-z0-9._+~:-]
inline constexpr size_t kMaxCredentialIdBytes = 1023;  // WebAuthn's limit, before base64url
inline constexpr size_t kReportIdBytes = 16;
inline constexpr size_t kKidHashBytes = 32;
inline constexpr int64_t kMaxKeyCount = 1000000;

// Closed lists. A report with any other value is refused.
// kind:       failure | reenroll | heartbeat
// operation:  sign ecdh decrypt doctor webauthn-get webauthn-create rp-register rp-login reenroll
//             ssh-sign pkcs11
// permanence: permanent transient needs-user-action unknown (the error catalog's)
// remedy:     retry unlock authenticate set-passcode enroll-biometry reenroll report fix-call
//             fix-setup none (the error catalog's)
// found_by:   use doctor
// token:      soft tpm2
// keys (heartbeat) states: healthy unavailable-now permanently-invalid (doctor's verdicts)
const std::vector<std::string_view>& Kinds();
const std::vector<std::string_view>& Operations();
const std::vector<std::string_view>& Permanences();
const std::vector<std::string_view>& Remedies();
const std::vector<std::string_view>& FoundBy();
const std::vector<std::string_view>& Tokens();
const std::vector<std::string_view>& KeyStates();

// One report. Which fields a kind requires (R), allows (o) or refuses (-):
//
//   field                   failure  reenroll  heartbeat
//   id, time, kind             R        R         R
//   enclave_version, os_id,
//     os_version, kernel       R        R         R
//   app_id, app_version        o        o         o
//   credential_id              o        R         -     (the key's, if registered with this server;
//                                                        for reenroll: the new credential)
//   kid_hash                   o        o         -
//   operation, domain, code,
//     permanence, remedy,
//     found_by, prompted       R        -         -
//   cause                      R        o         -     (reenroll: why the replaced key died)
//   token                      R        o         -
//   replaced_credential_id     -        R         -
//   keys                       -        -         R
//
// Strings: `id` base64url of 16 bytes; `credential_id`, `replaced_credential_id` base64url of
// 1..1023 bytes; `kid_hash` base64url of SHA-256 (32 bytes) of the key's id; `time` RFC 3339 UTC
// with seconds and a Z ("2025-03-01T12:00:00Z"), years 2000..9999; `cause` [a-z0-9-]{1,64};
// `domain` [A-Za-z0-9._-]{1,64}; versions, ids and the kernel [A-Za-z0-9._+~:-]{1,64}; `code` any
// JSON integer that fits int64; `keys` an object of KeyStates() -> integer 0..kMaxKeyCount.
struct Report {
  std::string id;
  int64_t time = 0;  // seconds since the epoch, UTC
  std::string kind;
  std::optional<std::string> credential_id;
  std::optional<std::string> kid_hash;
  std::optional<std::string> operation;
  std::optional<std::string> domain;
  std::optional<int64_t> code;
  std::optional<std::string> cause;
  std::optional<std::string> permanence;
  std::optional<std::string> remedy;
  std::optional<std::string> found_by;
  std::optional<std::string> token;
  std::optional<bool> prompted;
  std::string enclave_version;
  std::string os_id;
  std::string os_version;
  std::string kernel;
  std::optional<std::string> app_id;
  std::optional<std::string> app_version;
  std::optional<std::string> replaced_credential_id;
  std::optional<std::map<std::string, int64_t>> keys;

  bool operator==(const Report&) const = default;
};

struct Batch {
  std::vector<Report> reports;  // 0..kMaxReports, ids distinct
  int64_t sent_at = 0;          // RFC 3339 on the wire
  int64_t dropped = 0;          // reports the device's bounded queue discarded since the last batch

  bool operator==(const Batch&) const = default;
};

// The signed envelope, the body of POST /v1/reports:
// {"device_key": b64u(COSE_Key), "batch": b64u(batch bytes), "signature": b64u(DER ECDSA)}.
struct Envelope {
  std::vector<uint8_t> device_key;   // the device identity key's COSE_Key, exactly as registered
  std::vector<uint8_t> batch_bytes;  // the UTF-8 JSON of a Batch, exactly as signed
  std::vector<uint8_t> signature;    // DER ECDSA P-256 SHA-256 over SignedBytes(batch_bytes)
};

inline constexpr char kBatchContext[] = "enclave-fleet-batch-v1";

// Every function below fails with `schema-invalid` (or `batch-too-large`) and one message naming
// the field: "reports[3].cause: ...".

// Validates everything the schema says about one report (kind rules included).
Status ValidateReport(const Report& report);
Result<Report> ParseReport(const nlohmann::json& json);
// Only the fields present; the same document ParseReport accepts.
nlohmann::json ReportToJson(const Report& report);

// Refuses more than kMaxBatchBytes or kMaxReports (`batch-too-large`), JSON nested deeper than the
// schema needs, unknown keys, a report that does not validate (with its index), duplicate ids.
Result<Batch> ParseBatch(std::span<const uint8_t> json_bytes);
Result<Batch> ParseBatch(std::string_view json_text);
// Compact UTF-8 JSON; ParseBatch(SerializeBatch(b)) == b for every valid b.
std::string SerializeBatch(const Batch& batch);

// "enclave-fleet-batch-v1" || 0x00 || batch_bytes: the message the device key signs. The context
// keeps a batch signature from ever being a valid signature of anything else the key signs.
std::vector<uint8_t> SignedBytes(std::span<const uint8_t> batch_bytes);

// The envelope's three fields, each strict base64url, no other keys; at most kMaxEnvelopeBytes
// (`batch-too-large` beyond). The device key must parse as a COSE ES256 key. Does not verify.
Result<Envelope> ParseEnvelope(std::string_view body);
std::string SerializeEnvelope(const Envelope& envelope);
// Whether the signature verifies under the envelope's own device key (`signature-invalid` if not).
// The caller still has to know that key (a registration proved it).
Status VerifyEnvelope(const Envelope& envelope);

// base64url(SHA-256(COSE_Key bytes)): how the server names a device without storing its key twice.
std::string DeviceKeyHash(std::span<const uint8_t> device_key);

// RFC 3339 "YYYY-MM-DDTHH:MM:SSZ" <-> seconds since the epoch (years 2000..9999 only).
std::string FormatTime(int64_t epoch_seconds);
Result<int64_t> ParseTime(std::string_view text);

}  // namespace enclave::fleet
