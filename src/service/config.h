// The enclave home's configuration (config.json): which biometry provider answers prompts,
// where the TPM is, passcode policy. Values are validated on set; unknown keys are refused.
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/result.h"

namespace enclave::service {

class Config {
 public:
  static Result<Config> Load(const std::filesystem::path& file);
  // config.json's text (fuzzed: service/fuzz/); values are validated as Set validates them.
  static Result<Config> Parse(std::string_view text);

  // Keys: biometry (none | fprintd | simulator; default none: a simulator is never a silent
  // default), tpm2-tcti (empty: no TPM), passcode-max-attempts (1..100, default 10),
  // passcode-lockout-seconds (default 86400), fprintd-user (default: the daemon's user),
  // ssh-agent-upstream (empty, or the socket of an agent the ssh agent forwards file keys to);
  // fleet reports: report-server (URL), report-failures (on | off, default off), app-id and
  // app-version (what the app sets, sent with each report).
  Status Set(const std::string& key, const std::string& value);
  Result<std::string> Get(const std::string& key) const;
  std::string biometry() const { return GetOr("biometry"); }
  std::string tpm2_tcti() const { return GetOr("tpm2-tcti"); }
  std::string GetOr(const std::string& key) const;
  int passcode_max_attempts() const;
  int64_t passcode_lockout_seconds() const;
  nlohmann::json ToJson() const;

 private:
  Status Save() const;
  std::filesystem::path file_;
  std::map<std::string, std::string> values_;
};

// Writes `content` to `path` atomically (temp file, fsync, rename) with the given mode.
Status WriteFileAtomically(const std::filesystem::path& path, const std::string& content, unsigned mode);
Result<std::string> ReadFile(const std::filesystem::path& path);
// A small JSON state file as an object; missing or damaged files read as {}.
nlohmann::json ReadJsonObject(const std::filesystem::path& path);

}  // namespace enclave::service
