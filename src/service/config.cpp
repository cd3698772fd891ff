#include "service/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/durable_io.h"
#include "reports/device_facts.h"

namespace enclave::service {
namespace {

struct KeyRule {
  const char* key;
  const char* default_value;
  bool (*valid)(const std::string&);
  const char* expected;
};

bool IsBiometry(const std::string& v) { return v == "none" || v == "fprintd" || v == "simulator"; }
bool AnyText(const std::string& v) { return v.find('\n') == std::string::npos; }
bool IsTcti(const std::string& v) {
  return v.empty() || v.rfind("device:", 0) == 0 || v.rfind("swtpm:", 0) == 0 || v.rfind("mssim:", 0) == 0 ||
         v.rfind("tabrmd", 0) == 0;
}
bool IsEmptyOrAbsolutePath(const std::string& v) {
  return v.empty() || (v[0] == '/' && v.size() < 108 && AnyText(v));
}
bool IsAttempts(const std::string& v) {
  try {
    int n = std::stoi(v);
    return std::to_string(n) == v && n >= 1 && n <= 100;
  } catch (...) {
    return false;
  }
}
bool IsSeconds(const std::string& v) {
  try {
    long long n = std::stoll(v);
    // At most ten years: a lockout added to the clock must not overflow.
    return std::to_string(n) == v && n >= 0 && n <= 10LL * 365 * 86400;
  } catch (...) {
    return false;
  }
}

bool IsOnOff(const std::string& v) { return v == "on" || v == "off"; }
// A relying party's base URL: http or https, no credentials, no spaces; empty: no reports.
bool IsReportServer(const std::string& v) {
  return v.empty() ||
         (v.size() <= 512 && !reports::OriginOfUrl(v).empty() &&
          std::none_of(v.begin(), v.end(), [](unsigned char c) { return c <= ' ' || c >= 0x7f; }));
}
bool IsEmptyOrIdentifier(const std::string& v) { return v.empty() || reports::IsIdentifier(v); }

const KeyRule kRules[] = {
    {"biometry", "none", IsBiometry, "none | fprintd | simulator"},
    {"tpm2-tcti", "", IsTcti, "device:/dev/tpmrm0 | swtpm:host=H,port=P | mssim:... | empty"},
    {"passcode-max-attempts", "10", IsAttempts, "a whole number from 1 to 100"},
    {"passcode-lockout-seconds", "86400", IsSeconds, "a whole number of seconds, at most ten years"},
    {"fprintd-user", "", AnyText, "a user name"},
    {"logind-session", "", AnyText, "a logind session id (empty: this login session)"},
    {"ssh-agent-upstream", "", IsEmptyOrAbsolutePath,
     "the absolute path of another agent's socket (e.g. ssh-agent's), or empty"},
    // Fleet reports (docs/fleet.md): off unless both are set.
    {"report-server", "", IsReportServer, "the relying party's http(s) base URL, or empty"},
    {"report-failures", "off", IsOnOff, "on | off"},
    {"app-id", "", IsEmptyOrIdentifier, "empty, or 1 to 64 of A-Z a-z 0-9 . _ + ~ : -"},
    {"app-version", "", IsEmptyOrIdentifier, "empty, or 1 to 64 of A-Z a-z 0-9 . _ + ~ : -"},
};

const KeyRule* FindRule(const std::string& key) {
  for (const auto& r : kRules) {
    if (key == r.key) return &r;
  }
  return nullptr;
}

Error UnknownKey(const std::string& key) {
  std::string names;
  for (const auto& r : kRules) names += std::string(names.empty() ? "" : ", ") + r.key;
  return OSStatusError(errsec::kParam, "unknown configuration key '" + key + "' (known: " + names + ")")
      .WithCause("bad-parameter");
}

}  // namespace

Status WriteFileAtomically(const std::filesystem::path& path, const std::string& content, unsigned mode) {
  return durable::WriteFileAtomic(path, AsBytes(content), mode);
}

Result<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return OSStatusError(errsec::kIO, "cannot read " + path.filename().string()).WithCause("database-io");
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

nlohmann::json ReadJsonObject(const std::filesystem::path& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return nlohmann::json::object();
  auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  return j.is_object() ? j : nlohmann::json::object();
}

Result<Config> Config::Load(const std::filesystem::path& file) {
  Config c;
  if (std::filesystem::exists(file)) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(file));
    ASSIGN_OR_RETURN(c, Parse(text));
  }
  c.file_ = file;
  return c;
}

Result<Config> Config::Parse(std::string_view text) {
  Config c;
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return OSStatusError(errsec::kDecode, "config.json is not a JSON object").WithCause("bad-parameter");
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    const KeyRule* rule = FindRule(it.key());
    if (rule == nullptr || !it.value().is_string()) continue;
    // A value edited by hand is checked as `config set` would check it: an out-of-range attempt
    // limit must not turn into a crash or a silently weaker policy.
    const std::string value = it.value().get<std::string>();
    if (!rule->valid(value)) {
      return OSStatusError(errsec::kDecode, "config.json: invalid value for " + it.key() + " (expected " +
                                                rule->expected + "); fix it with enclave config set")
          .WithCause("bad-parameter");
    }
    c.values_[it.key()] = value;
  }
  return c;
}

Status Config::Set(const std::string& key, const std::string& value) {
  const KeyRule* rule = FindRule(key);
  if (rule == nullptr) return UnknownKey(key);
  if (!rule->valid(value)) {
    return OSStatusError(errsec::kParam, "invalid value for " + key + " (expected " + rule->expected + ")")
        .WithCause("bad-parameter");
  }
  values_[key] = value;
  return Save();
}

Result<std::string> Config::Get(const std::string& key) const {
  if (FindRule(key) == nullptr) return UnknownKey(key);
  return GetOr(key);
}

std::string Config::GetOr(const std::string& key) const {
  auto it = values_.find(key);
  if (it != values_.end()) return it->second;
  const KeyRule* rule = FindRule(key);
  return rule != nullptr ? rule->default_value : "";
}

int Config::passcode_max_attempts() const { return std::stoi(GetOr("passcode-max-attempts")); }
int64_t Config::passcode_lockout_seconds() const { return std::stoll(GetOr("passcode-lockout-seconds")); }

nlohmann::json Config::ToJson() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& r : kRules) j[r.key] = GetOr(r.key);
  return j;
}

Status Config::Save() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : values_) j[k] = v;
  return WriteFileAtomically(file_, j.dump(2) + "\n", 0600);
}

}  // namespace enclave::service
