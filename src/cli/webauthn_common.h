// What `enclave webauthn …` and `enclave rp …` share: the credential key's flags (a subset of
// `key create`'s), JSON input, and the signing hook that asks for a passcode and retries.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "cli/context.h"
#include "rpclient/authenticator.h"

namespace enclave::cli {

struct CredentialFlags {
  std::string app_label, app_label_hex, label, access_group,
      token = "soft", accessible = "when-unlocked-this-device-only", access_control;
  CLI::Option *app_label_opt = nullptr, *app_label_hex_opt = nullptr, *label_opt = nullptr,
              *group_opt = nullptr, *acl_opt = nullptr;

  void AddTo(CLI::App* cmd);
  Result<rpclient::CreateParams> ToParams() const;
};

// A JSON document from a file, or from standard input for "-".
Result<nlohmann::json> ReadJsonInput(Context& ctx, const std::string& path, const std::string& what);

// Api::Sign with the CLI's passcode rule (WithPasscodeRetry). `api` and `ctx` must outlive it.
rpclient::SignFunction PasscodeRetryingSign(Context& ctx, Api& api, bool passcode_stdin);

}  // namespace enclave::cli
