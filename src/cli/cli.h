// The `enclave` command line as a library: argument parsing and every command's logic, written
// against enclave::Api and an output sink so that tests can run commands against an in-process
// service session, and the executable against the daemon's client.
#pragma once

#include <functional>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "service/api.h"

namespace enclave::cli {

// Where commands write and read, and how they reach the enclave.
struct Environment {
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  std::istream* in = nullptr;
  // Returns the enclave to talk to, connecting (and autostarting the daemon) on first use.
  // The pointer stays owned by whoever built the Environment.
  std::function<Result<Api*>()> connect;
  // `daemon start|stop|restart|status`: returns a report for --json.
  std::function<Result<nlohmann::json>(std::string_view action, bool debug)> daemon;
  // Asks the user for a passcode (pinentry in the real CLI); `description` is shown to the user.
  std::function<Result<SecureBytes>(std::string_view description, std::string_view prompt, bool confirm)>
      ask_passcode;
};

// Parses `args` (without the program name) and runs the command. Returns the exit status:
// 0 on success, 1 on any error (printed as JSON on `out` with --json, else as text on `err`),
// 2 on a usage error.
int Run(const std::vector<std::string>& args, Environment& env);

// The rotation statement `key reenroll` emits: a JSON document {old_public_key_x963,
// new_public_key_x963, timestamp, signature, ...} signed by the old key with
// ecdsa-signature-message-x962-sha256 over the canonical JSON (sorted keys, no spaces) of every
// field but "signature". Returns the statement's fields on success; errSecVerifyFailed when the
// signature does not verify, errSecParam when malformed.
Result<nlohmann::json> VerifyRotationStatement(ByteView statement);

}  // namespace enclave::cli
