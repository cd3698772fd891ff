#include "service/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

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
    return std::to_string(n) == v && n >= 0;
  } catch (...) {
    return false;
  }
}

const KeyRule kRules[] = {
    {"biometry", "none", IsBiometry, "none | fprintd | simulator"},
    {"tpm2-tcti", "", IsTcti, "device:/dev/tpmrm0 | swtpm:host=H,port=P | mssim:... | empty"},
    {"passcode-max-attempts", "10", IsAttempts, "a whole number from 1 to 100"},
    {"passcode-lockout-seconds", "86400", IsSeconds, "a whole number of seconds"},
    {"fprintd-user", "", AnyText, "a user name"},
    {"logind-session", "", AnyText, "a logind session id (empty: this login session)"},
    {"ssh-agent-upstream", "", IsEmptyOrAbsolutePath,
     "the absolute path of another agent's socket (e.g. ssh-agent's), or empty"},
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
  const std::string tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return OSStatusError(errsec::kIO, "cannot write " + path.filename().string()).WithCause("database-io");
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n <= 0) {
      ::close(fd);
      return OSStatusError(errsec::kIO, "short write to " + path.filename().string()).WithCause("database-io");
    }
    done += static_cast<size_t>(n);
  }
  ::fchmod(fd, mode);
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return OSStatusError(errsec::kIO, "cannot replace " + path.filename().string()).WithCause("database-io");
  }
  return Ok();
}

Result<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return OSStatusError(errsec::kIO, "cannot read " + path.filename().string()).WithCause("database-io");
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
  c.file_ = file;
  if (!std::filesystem::exists(file)) return c;
  ASSIGN_OR_RETURN(std::string text, ReadFile(file));
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return OSStatusError(errsec::kDecode, "config.json is not a JSON object").WithCause("bad-parameter");
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (FindRule(it.key()) != nullptr && it.value().is_string()) c.values_[it.key()] = it.value().get<std::string>();
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
