#include "fleet/report.h"

#include <algorithm>
#include <functional>

#include "fleet/schema_util.h"
#include "webauthn/base64url.h"

namespace enclave::fleet {
namespace {

using nlohmann::json;

enum class Need { kRequired, kOptional, kRefused };

struct KindRules {
  Need credential_id, kid_hash, failure_fields, cause, token, replaced_credential_id, keys;
};

const KindRules* RulesFor(std::string_view kind) {
  using enum Need;
  static const KindRules kFailure{kOptional, kOptional, kRequired, kRequired, kRequired, kRefused, kRefused};
  static const KindRules kReenroll{kRequired, kOptional, kRefused, kOptional, kOptional, kRequired, kRefused};
  static const KindRules kHeartbeat{kRefused, kRefused, kRefused, kRefused, kRefused, kRefused, kRequired};
  if (kind == "failure") return &kFailure;
  if (kind == "reenroll") return &kReenroll;
  if (kind == "heartbeat") return &kHeartbeat;
  return nullptr;
}

template <typename T>
Status CheckPresence(const std::optional<T>& value, Need need, std::string_view field,
                     std::string_view kind) {
  if (need == Need::kRequired && !value)
    return SchemaError(field, "is required in a " + std::string(kind) + " report");
  if (need == Need::kRefused && value)
    return SchemaError(field, "is not allowed in a " + std::string(kind) + " report");
  return Ok();
}

Status CheckBase64Bytes(std::string_view field, const std::string& text, size_t min_bytes, size_t max_bytes) {
  if (text.size() > (max_bytes * 4 + 2) / 3) return SchemaError(field, "is too long");
  auto bytes = webauthn::Base64UrlDecode(text);
  if (!bytes.ok()) return SchemaError(field, "is not base64url");
  if (bytes->size() < min_bytes || bytes->size() > max_bytes) {
    return SchemaError(field, min_bytes == max_bytes
                                  ? "must encode exactly " + std::to_string(min_bytes) + " bytes"
                                  : "must encode " + std::to_string(min_bytes) + ".." +
                                        std::to_string(max_bytes) + " bytes");
  }
  return Ok();
}

Status CheckOptionalIdentifier(std::string_view field, const std::optional<std::string>& value) {
  return value ? CheckIdentifier(field, *value) : Ok();
}

// The JSON reader: each known key with its type, into the struct; unknown keys refused.
using Reader = std::function<Status(const json&, Report&)>;

Reader String(std::string Report::*member, std::string_view field) {
  return [member, field](const json& v, Report& r) -> Status {
    if (!v.is_string()) return SchemaError(field, "must be a string");
    r.*member = v.get<std::string>();
    return Ok();
  };
}

Reader OptString(std::optional<std::string> Report::*member, std::string_view field) {
  return [member, field](const json& v, Report& r) -> Status {
    if (!v.is_string()) return SchemaError(field, "must be a string");
    r.*member = v.get<std::string>();
    return Ok();
  };
}

const std::vector<std::pair<std::string_view, Reader>>& Readers() {
  static const std::vector<std::pair<std::string_view, Reader>> kReaders = {
      {"id", String(&Report::id, "id")},
      {"time",
       [](const json& v, Report& r) -> Status {
         if (!v.is_string()) return SchemaError("time", "must be an RFC 3339 string");
         auto t = ParseTime(v.get<std::string>());
         if (!t.ok()) return SchemaError("time", "must be RFC 3339 UTC with seconds (YYYY-MM-DDTHH:MM:SSZ)");
         r.time = *t;
         return Ok();
       }},
      {"kind", String(&Report::kind, "kind")},
      {"credential_id", OptString(&Report::credential_id, "credential_id")},
      {"kid_hash", OptString(&Report::kid_hash, "kid_hash")},
      {"operation", OptString(&Report::operation, "operation")},
      {"domain", OptString(&Report::domain, "domain")},
      {"code",
       [](const json& v, Report& r) -> Status {
         if (!v.is_number_integer()) return SchemaError("code", "must be an integer");
         if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t{INT64_MAX}) {
           return SchemaError("code", "does not fit in 64 bits");
         }
         r.code = v.get<int64_t>();
         return Ok();
       }},
      {"cause", OptString(&Report::cause, "cause")},
      {"permanence", OptString(&Report::permanence, "permanence")},
      {"remedy", OptString(&Report::remedy, "remedy")},
      {"found_by", OptString(&Report::found_by, "found_by")},
      {"token", OptString(&Report::token, "token")},
      {"prompted",
       [](const json& v, Report& r) -> Status {
         if (!v.is_boolean()) return SchemaError("prompted", "must be true or false");
         r.prompted = v.get<bool>();
         return Ok();
       }},
      {"enclave_version", String(&Report::enclave_version, "enclave_version")},
      {"os_id", String(&Report::os_id, "os_id")},
      {"os_version", String(&Report::os_version, "os_version")},
      {"kernel", String(&Report::kernel, "kernel")},
      {"app_id", OptString(&Report::app_id, "app_id")},
      {"app_version", OptString(&Report::app_version, "app_version")},
      {"replaced_credential_id", OptString(&Report::replaced_credential_id, "replaced_credential_id")},
      {"keys",
       [](const json& v, Report& r) -> Status {
         if (!v.is_object()) return SchemaError("keys", "must be an object of key state -> count");
         std::map<std::string, int64_t> keys;
         for (const auto& [state, count] : v.items()) {
           if (!OneOf(KeyStates(), state)) return SchemaError("keys", "has an unknown key state");
           if (!count.is_number_integer() || count.get<int64_t>() < 0 ||
               count.get<int64_t>() > kMaxKeyCount ||
               (count.is_number_unsigned() && count.get<uint64_t>() > uint64_t(kMaxKeyCount))) {
             return SchemaError("keys", "counts must be integers 0.." + std::to_string(kMaxKeyCount));
           }
           keys[state] = count.get<int64_t>();
         }
         r.keys = std::move(keys);
         return Ok();
       }},
  };
  return kReaders;
}

}  // namespace

const std::vector<std::string_view>& Kinds() {
  static const std::vector<std::string_view> k = {"failure", "reenroll", "heartbeat"};
  return k;
}
const std::vector<std::string_view>& Operations() {
  static const std::vector<std::string_view> k = {
      "sign",        "ecdh",     "decrypt",  "doctor",   "webauthn-get", "webauthn-create",
      "rp-register", "rp-login", "reenroll", "ssh-sign", "pkcs11"};
  return k;
}
const std::vector<std::string_view>& Permanences() {
  static const std::vector<std::string_view> k = {"permanent", "transient", "needs-user-action", "unknown"};
  return k;
}
const std::vector<std::string_view>& Remedies() {
  static const std::vector<std::string_view> k = {
      "retry",    "unlock", "authenticate", "set-passcode", "enroll-biometry",
      "reenroll", "report", "fix-call",     "fix-setup",    "none"};
  return k;
}
const std::vector<std::string_view>& FoundBy() {
  static const std::vector<std::string_view> k = {"use", "doctor"};
  return k;
}
const std::vector<std::string_view>& Tokens() {
  static const std::vector<std::string_view> k = {"soft", "tpm2"};
  return k;
}
const std::vector<std::string_view>& KeyStates() {
  static const std::vector<std::string_view> k = {"healthy", "unavailable-now", "permanently-invalid"};
  return k;
}

Status ValidateReport(const Report& r) {
  RETURN_IF_ERROR(CheckBase64Bytes("id", r.id, kReportIdBytes, kReportIdBytes));
  if (r.time < kMinTime || r.time > kMaxTime) return SchemaError("time", "is outside years 2000..9999");
  const KindRules* rules = RulesFor(r.kind);
  if (!rules) return SchemaError("kind", "must be failure, reenroll or heartbeat");
  RETURN_IF_ERROR(CheckIdentifier("enclave_version", r.enclave_version));
  RETURN_IF_ERROR(CheckIdentifier("os_id", r.os_id));
  RETURN_IF_ERROR(CheckIdentifier("os_version", r.os_version));
  RETURN_IF_ERROR(CheckIdentifier("kernel", r.kernel));
  RETURN_IF_ERROR(CheckOptionalIdentifier("app_id", r.app_id));
  RETURN_IF_ERROR(CheckOptionalIdentifier("app_version", r.app_version));

  RETURN_IF_ERROR(CheckPresence(r.credential_id, rules->credential_id, "credential_id", r.kind));
  if (r.credential_id)
    RETURN_IF_ERROR(CheckBase64Bytes("credential_id", *r.credential_id, 1, kMaxCredentialIdBytes));
  RETURN_IF_ERROR(CheckPresence(r.kid_hash, rules->kid_hash, "kid_hash", r.kind));
  if (r.kid_hash) RETURN_IF_ERROR(CheckBase64Bytes("kid_hash", *r.kid_hash, kKidHashBytes, kKidHashBytes));

  RETURN_IF_ERROR(CheckPresence(r.operation, rules->failure_fields, "operation", r.kind));
  if (r.operation && !OneOf(Operations(), *r.operation))
    return SchemaError("operation", "is not a known operation");
  RETURN_IF_ERROR(CheckPresence(r.domain, rules->failure_fields, "domain", r.kind));
  if (r.domain)
    RETURN_IF_ERROR(CheckCharset("domain", *r.domain, kMaxIdentifierBytes, "A-Za-z0-9._-", IsDomainChar));
  RETURN_IF_ERROR(CheckPresence(r.code, rules->failure_fields, "code", r.kind));
  RETURN_IF_ERROR(CheckPresence(r.permanence, rules->failure_fields, "permanence", r.kind));
  if (r.permanence && !OneOf(Permanences(), *r.permanence)) {
    return SchemaError("permanence", "must be permanent, transient, needs-user-action or unknown");
  }
  RETURN_IF_ERROR(CheckPresence(r.remedy, rules->failure_fields, "remedy", r.kind));
  if (r.remedy && !OneOf(Remedies(), *r.remedy))
    return SchemaError("remedy", "is not in the error catalog's remedies");
  RETURN_IF_ERROR(CheckPresence(r.found_by, rules->failure_fields, "found_by", r.kind));
  if (r.found_by && !OneOf(FoundBy(), *r.found_by)) return SchemaError("found_by", "must be use or doctor");
  RETURN_IF_ERROR(CheckPresence(r.prompted, rules->failure_fields, "prompted", r.kind));

  RETURN_IF_ERROR(CheckPresence(r.cause, rules->cause, "cause", r.kind));
  if (r.cause) RETURN_IF_ERROR(CheckCharset("cause", *r.cause, kMaxIdentifierBytes, "a-z0-9-", IsCauseChar));
  RETURN_IF_ERROR(CheckPresence(r.token, rules->token, "token", r.kind));
  if (r.token && !OneOf(Tokens(), *r.token)) return SchemaError("token", "must be soft or tpm2");

  RETURN_IF_ERROR(CheckPresence(r.replaced_credential_id, rules->replaced_credential_id,
                                "replaced_credential_id", r.kind));
  if (r.replaced_credential_id) {
    RETURN_IF_ERROR(
        CheckBase64Bytes("replaced_credential_id", *r.replaced_credential_id, 1, kMaxCredentialIdBytes));
  }
  RETURN_IF_ERROR(CheckPresence(r.keys, rules->keys, "keys", r.kind));
  if (r.keys) {
    for (const auto& [state, count] : *r.keys) {
      if (!OneOf(KeyStates(), state)) return SchemaError("keys", "has an unknown key state");
      if (count < 0 || count > kMaxKeyCount) {
        return SchemaError("keys", "counts must be integers 0.." + std::to_string(kMaxKeyCount));
      }
    }
  }
  return Ok();
}

Result<Report> ParseReport(const json& doc) {
  if (!doc.is_object()) return SchemaError("report", "must be an object");
  Report r;
  const auto& readers = Readers();
  for (const auto& item : doc.items()) {
    // Not a structured binding: clang (the fuzz build) does not let a lambda capture one.
    const std::string& key = item.key();
    auto it = std::find_if(readers.begin(), readers.end(), [&](const auto& p) { return p.first == key; });
    // The key is not echoed: an unknown key is exactly where free text would go.
    if (it == readers.end()) return SchemaError("report", "has a key outside the schema");
    RETURN_IF_ERROR(it->second(item.value(), r));
  }
  RETURN_IF_ERROR(ValidateReport(r));
  return r;
}

json ReportToJson(const Report& r) {
  json j = json::object();
  auto put = [&j](const char* key, const auto& opt) {
    if (opt) j[key] = *opt;
  };
  j["id"] = r.id;
  j["time"] = FormatTime(r.time);
  j["kind"] = r.kind;
  put("credential_id", r.credential_id);
  put("kid_hash", r.kid_hash);
  put("operation", r.operation);
  put("domain", r.domain);
  put("code", r.code);
  put("cause", r.cause);
  put("permanence", r.permanence);
  put("remedy", r.remedy);
  put("found_by", r.found_by);
  put("token", r.token);
  put("prompted", r.prompted);
  j["enclave_version"] = r.enclave_version;
  j["os_id"] = r.os_id;
  j["os_version"] = r.os_version;
  j["kernel"] = r.kernel;
  put("app_id", r.app_id);
  put("app_version", r.app_version);
  put("replaced_credential_id", r.replaced_credential_id);
  if (r.keys) j["keys"] = *r.keys;
  return j;
}

}  // namespace enclave::fleet
