#include "auth/policy.h"

#include <openssl/evp.h>

#include <array>
#include <cctype>
#include <charconv>
#include <utility>

#include "crypto/ec.h"

namespace enclave::auth {
namespace {

struct NamedFlag {
  const char* name;
  uint32_t bit;
};

// Canonical order: the order of SecAccessControlCreateFlags in the platform header.
constexpr std::array<NamedFlag, 8> kFlags = {{
    {"user-presence", flag::kUserPresence},
    {"biometry-any", flag::kBiometryAny},
    {"biometry-current-set", flag::kBiometryCurrentSet},
    {"device-passcode", flag::kDevicePasscode},
    {"or", flag::kOr},
    {"and", flag::kAnd},
    {"private-key-usage", flag::kPrivateKeyUsage},
    {"application-password", flag::kApplicationPassword},
}};

constexpr uint32_t kAllFlags = flag::kUserPresence | flag::kBiometryAny | flag::kBiometryCurrentSet |
                               flag::kDevicePasscode | flag::kOr | flag::kAnd | flag::kPrivateKeyUsage |
                               flag::kApplicationPassword;
constexpr uint32_t kUserConstraints =
    flag::kUserPresence | flag::kBiometryAny | flag::kBiometryCurrentSet | flag::kDevicePasscode;

Error ParamError(std::string message) {
  return OSStatusError(errsec::kParam, std::move(message)).WithCause("bad-parameter");
}

// The creation rules of SecAccessControlCreateWithFlags as the phone applies them. Or/And with
// fewer than two constraints is accepted, as on the phone: the combination flag only decides
// k in k-of-n, so with one constraint it changes nothing, and with none it is ignored.
Status Validate(uint32_t flags, bool for_token_key) {
  if ((flags & ~kAllFlags) != 0) return ParamError("access control has unknown flag bits");
  if ((flags & flag::kOr) && (flags & flag::kAnd)) {
    return ParamError("access control flags 'or' and 'and' cannot be combined");
  }
  if ((flags & flag::kBiometryAny) && (flags & flag::kBiometryCurrentSet)) {
    return ParamError("access control flags 'biometry-any' and 'biometry-current-set' cannot be combined");
  }
  const uint32_t with_presence_allowed =
      flag::kUserPresence | flag::kApplicationPassword | flag::kPrivateKeyUsage;
  if ((flags & flag::kUserPresence) && (flags & ~with_presence_allowed) != 0) {
    return ParamError(
        "access control flag 'user-presence' already means biometry or passcode; it combines only with "
        "'application-password' and 'private-key-usage'");
  }
  if ((flags & flag::kPrivateKeyUsage) && !for_token_key) {
    return ParamError("access control flag 'private-key-usage' is only valid for token (enclave) keys");
  }
  return Ok();
}

std::string UpperHex(std::string_view hex) {
  std::string out(hex);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

constexpr int kAppPasswordIterations = 100000;
constexpr size_t kAppPasswordSaltSize = 16;
constexpr size_t kAppPasswordHashSize = 32;

Bytes Pbkdf2(ByteView password, ByteView salt, int iterations) {
  Bytes out(kAppPasswordHashSize);
  if (PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(password.data()), static_cast<int>(password.size()),
                        salt.data(), static_cast<int>(salt.size()), iterations, EVP_sha256(),
                        static_cast<int>(out.size()), out.data()) != 1) {
    return {};
  }
  return out;
}

}  // namespace

Result<AccessPolicy> AccessPolicy::FromNames(const std::vector<std::string>& names, bool for_token_key) {
  AccessPolicy p;
  for (const std::string& name : names) {
    bool found = false;
    for (const auto& f : kFlags) {
      if (name == f.name) {
        p.flags |= f.bit;
        found = true;
        break;
      }
    }
    if (!found) {
      return ParamError(
          "unknown access control flag '" + name +
          "' (known: user-presence, biometry-any, biometry-current-set, device-passcode, or, and, "
          "private-key-usage, application-password)");
    }
  }
  RETURN_IF_ERROR(Validate(p.flags, for_token_key));
  return p;
}

std::vector<std::string> AccessPolicy::Names() const {
  std::vector<std::string> out;
  for (const auto& f : kFlags) {
    if (flags & f.bit) out.emplace_back(f.name);
  }
  return out;
}

bool AccessPolicy::has_constraints() const {
  return (flags & (kUserConstraints | flag::kApplicationPassword)) != 0;
}

std::string AccessPolicy::Serialize() const {
  nlohmann::ordered_json j;
  j["v"] = 1;
  j["flags"] = flags;
  j["bio_db"] = biometry_database_id;
  j["bio_set"] = biometry_set_hash;
  j["app_pw"] = application_password_hash;
  return j.dump();
}

namespace {

// The last policies parsed on this thread, by their exact text. Deserialize is a pure function of
// the text, so answering from here decides exactly what parsing would; it spares the JSON parser
// on every use of a key (a tenth of a signature's time). Failures are never kept.
struct ParsedPolicy {
  std::string text;
  AccessPolicy policy;
};
constexpr size_t kParsedPolicies = 8;
thread_local std::array<ParsedPolicy, kParsedPolicies> parsed_policies;
thread_local size_t next_parsed_policy = 0;

Result<AccessPolicy> ParsePolicy(std::string_view text);

}  // namespace

Result<AccessPolicy> AccessPolicy::Deserialize(std::string_view text) {
  for (const ParsedPolicy& p : parsed_policies) {
    if (!p.text.empty() && p.text == text) return p.policy;
  }
  auto parsed = ParsePolicy(text);
  if (parsed.ok() && !text.empty()) {
    ParsedPolicy& slot = parsed_policies[next_parsed_policy++ % kParsedPolicies];
    slot.text.assign(text);
    slot.policy = *parsed;
  }
  return parsed;
}

namespace {

Result<AccessPolicy> ParsePolicy(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto bad = [](const std::string& why) { return ParamError("access control data is not valid: " + why); };
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (key != "v" && key != "flags" && key != "bio_db" && key != "bio_set" && key != "app_pw") {
      return bad("unknown field '" + key + "'");
    }
  }
  if (!j.contains("v") || !j["v"].is_number_unsigned() || j["v"].get<uint64_t>() != 1) {
    return bad("unsupported version");
  }
  if (!j.contains("flags") || !j["flags"].is_number_unsigned() || j["flags"].get<uint64_t>() > UINT32_MAX) {
    return bad("flags missing or out of range");
  }
  AccessPolicy p;
  p.flags = j["flags"].get<uint32_t>();
  const std::pair<const char*, std::string*> strings[] = {{"bio_db", &p.biometry_database_id},
                                                          {"bio_set", &p.biometry_set_hash},
                                                          {"app_pw", &p.application_password_hash}};
  for (const auto& [key, field] : strings) {
    if (!j.contains(key) || !j[key].is_string())
      return bad(std::string("field '") + key + "' missing or not a string");
    *field = j[key].get<std::string>();
  }
  // Stored policies were validated at creation; a combination that could never have been
  // created means the data was edited.
  auto valid = Validate(p.flags, /*for_token_key=*/true);
  if (!valid.ok()) return bad(valid.error().description);
  return p;
}

}  // namespace

std::string AccessPolicy::Describe(std::string_view protection_code) const {
  std::vector<std::string> constraints;
  if (flags & flag::kUserPresence) constraints.emplace_back("cpol(DeviceOwnerAuthentication)");
  if (flags & flag::kDevicePasscode) constraints.emplace_back("cup(true)");
  if (flags & flag::kBiometryAny)
    constraints.push_back("cbio(pbioc(" + UpperHex(biometry_database_id) + "))");
  if (flags & flag::kBiometryCurrentSet) {
    constraints.push_back("cbio(pbioc(" + UpperHex(biometry_database_id) + ")pbioh(" +
                          UpperHex(biometry_set_hash) + "))");
  }
  std::string constraint;
  if (constraints.size() == 1) {
    constraint = constraints.front();
  } else if (constraints.size() > 1) {
    const size_t k = (flags & flag::kOr) ? 1 : constraints.size();
    constraint = "pkofn(" + std::to_string(k) + ")";
    for (const auto& c : constraints) constraint += c;
  }

  std::string out(protection_code);
  auto entry = [&out](std::string_view op, std::string_view value) {
    out += ";";
    out += op;
    out += "(";
    out += value;
    out += ")";
  };
  if (flags & flag::kPrivateKeyUsage) {
    const std::string c = constraint.empty() ? "true" : constraint;
    entry("osgn", c);
    entry("ock", c);
    entry("okd", c);
    entry("oa", "true");
    entry("odel", "true");
  } else if (!constraint.empty()) {
    entry("od", constraint);
    entry("oe", "true");
    entry("odel", "true");
  } else {
    entry("dacl", "true");
  }
  if (flags & flag::kApplicationPassword) entry("prp", "true");
  return out;
}

std::string AccessPolicy::HashApplicationPassword(ByteView password) {
  const Bytes salt = crypto::RandomBytes(kAppPasswordSaltSize);
  const Bytes hash = Pbkdf2(password, salt, kAppPasswordIterations);
  return "pbkdf2-sha256$" + std::to_string(kAppPasswordIterations) + "$" + HexEncode(salt) + "$" +
         HexEncode(hash);
}

bool AccessPolicy::ApplicationPasswordMatches(ByteView password) const {
  // pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>
  std::string_view s = application_password_hash;
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t end = s.find('$', start);
    parts.push_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (parts.size() != 4 || parts[0] != "pbkdf2-sha256") return false;
  int iterations = 0;
  auto [ptr, ec] = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), iterations);
  if (ec != std::errc() || ptr != parts[1].data() + parts[1].size() || iterations < 1 ||
      iterations > 10000000) {
    return false;
  }
  auto salt = HexDecode(parts[2]);
  auto expected = HexDecode(parts[3]);
  if (!salt || !expected || expected->size() != kAppPasswordHashSize) return false;
  const Bytes actual = Pbkdf2(password, *salt, iterations);
  return !actual.empty() && ConstantTimeEquals(actual, *expected);
}

}  // namespace enclave::auth
