// The enclave's operations as one interface, implemented twice: by service::Session (in the
// daemon's process, over the real keychain and tokens) and by client::Client (over the socket).
// The CLI and the tests are written against this interface only.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace enclave {

// A key item as clients see it: attributes and a reference, never key material.
struct KeyInfo {
  std::string kid;
  int64_t persistent_id = 0;
  std::string description;  // "<sepk:p256 kid=…>"
  std::string label;
  Bytes application_label;
  Bytes application_tag;
  std::string access_group;
  std::string token;  // "soft" | "tpm2"
  std::string key_class = "private";
  std::string key_type = "ec";
  int key_size = 256;
  bool permanent = true;
  bool can_sign = true;
  bool can_derive = true;
  bool can_decrypt = true;
  int64_t created_ms = 0;
  int64_t modified_ms = 0;
  std::string accessible;                   // CLI name: "when-unlocked-this-device-only"
  std::vector<std::string> access_control;  // CLI flag names
  Bytes public_key_x963;
  bool ssh = false;  // offered by the ssh agent (`key update --ssh on|off`)
};

struct KeySpec {
  std::optional<std::string> label;
  std::optional<Bytes> application_label;  // default: SHA-1 of the X9.63 public key
  std::optional<Bytes> application_tag;
  std::optional<std::string> access_group;
  std::string token = "soft";
  std::string key_type = "ec";  // kSecAttrKeyTypeECSECPrimeRandom; the only type tokens hold
  int key_size = 256;           // P-256; the only size tokens hold
  std::string accessible = "when-unlocked";
  std::vector<std::string> access_control;
  bool permanent = true;
  std::optional<bool> can_sign, can_derive, can_decrypt;
  std::optional<std::string> application_password;  // for the application-password flag
  bool ssh = false;                                 // offered by the ssh agent
};

struct KeyQuery {
  std::optional<std::string> kid;
  std::optional<int64_t> persistent_id;
  std::optional<std::string> label;
  std::optional<Bytes> application_label;
  std::optional<Bytes> application_tag;
  std::optional<std::string> access_group;
  std::optional<std::string> token;
  std::optional<bool> ssh;
  bool match_all = false;
};

struct KeyChanges {
  std::optional<std::string> label;
  std::optional<Bytes> application_tag;
  std::optional<bool> can_sign, can_derive, can_decrypt;
  std::optional<bool> ssh;
};

// LAContext-like inputs travelling with a private-key request.
struct AuthOptions {
  std::string operation_prompt;
  std::optional<std::string> context_id;  // a context evaluated earlier (reuse)
  bool interaction_allowed = true;
  std::optional<SecureBytes> passcode;  // for device-passcode policies, when the client has it
  std::optional<SecureBytes> application_password;
};

struct OperationResult {
  std::string kid;
  std::string algorithm;
  Bytes output;  // signature, plaintext or derived secret
  bool prompted = false;
};

struct ReenrollResult {
  std::string old_kid;
  KeyInfo key;
  std::optional<Bytes> rotation_statement;  // signed by the old key when it could still sign
};

class Api {
 public:
  virtual ~Api() = default;

  // Keys (SecKeyCreateRandomKey / SecItem*).
  virtual Result<KeyInfo> CreateKey(const KeySpec& spec) = 0;
  virtual Result<std::vector<KeyInfo>> FindKeys(const KeyQuery& query) = 0;
  virtual Result<int> UpdateKeys(const KeyQuery& query, const KeyChanges& changes) = 0;
  virtual Result<int> DeleteKeys(const KeyQuery& query) = 0;

  // Private-key operations (SecKeyCreateSignature / ...CreateDecryptedData / ...CopyKeyExchangeResult).
  virtual Result<OperationResult> Sign(const KeyQuery& key, const std::string& algorithm, const Bytes& input,
                                       const AuthOptions& auth) = 0;
  virtual Result<OperationResult> Decrypt(const KeyQuery& key, const std::string& algorithm,
                                          const Bytes& ciphertext, const AuthOptions& auth) = 0;
  virtual Result<OperationResult> KeyExchange(const KeyQuery& key, const std::string& algorithm,
                                              const Bytes& peer_public_key,
                                              std::optional<size_t> requested_size, const Bytes& shared_info,
                                              const AuthOptions& auth) = 0;
  // Private-key export is never possible: errSecUnimplemented (-4).
  virtual Result<Bytes> ExportPrivateKey(const KeyQuery& key) = 0;

  // Authentication contexts: evaluate once, reuse for `reuse_seconds` across operations.
  virtual Result<std::string> CreateAuthContext(int reuse_seconds) = 0;
  virtual Status InvalidateAuthContext(const std::string& context_id) = 0;

  // Device administration and diagnosis. Reports are JSON documents whose shapes are the CLI's
  // --json contract (docs/cli.md).
  virtual Result<nlohmann::json> Admin(const std::string& command, const nlohmann::json& args,
                                       const std::vector<SecureBytes>& secrets) = 0;

  // Recovery.
  virtual Result<ReenrollResult> Reenroll(const KeyQuery& key, const AuthOptions& auth) = 0;
};

// Admin commands (the `command` of Api::Admin) and their args:
//   "status" {}                               -> status report
//   "config.get" {"key"} / "config.set" {"key","value"}
//   "biometry" {"action": enroll|unenroll|match|no-match|cancel|lockout|reset|status, "finger"?}
//   "passcode.set" secrets=[new] or [old,new] when one is set; "passcode.change" [old,new];
//   "passcode.remove" [current]; "unlock" [passcode]; "lock" {}
//   "doctor" {} -> {"keys":[{"kid","verdict","cause","remedy",...}], "database":…, "keybag":…}
//   "events" {} -> {"events":[{"time","kind","cause","kids"}]}
//   "sysdiagnose" {} -> {"files": {"name": "text", ...}}
//   "inject" {"fault", ...}  (refused unless the daemon runs with --debug)
//   "attest" {"query": {...}} -> {"statement_hex","attestation_public_key_hex"}
// Secrets (passcodes) only ever travel in `secrets`, never in args, so they are never logged.

nlohmann::json KeyInfoToJson(const KeyInfo& k);
nlohmann::json KeyQueryToJson(const KeyQuery& q);
Result<KeyQuery> KeyQueryFromJson(const nlohmann::json& j);

}  // namespace enclave
