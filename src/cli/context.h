// What every command shares: the environment, the --json switch, output and error printing,
// file helpers, key selectors and the passcode-retry rule. Internal to the cli layer.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "crypto/ec.h"

namespace enclave::cli {

struct Context {
  Environment& env;
  bool json = false;
  int status = 0;

  // Prints a successful result: the JSON document with --json, else `human` (or a rendering of
  // the document when `human` is empty). Returns 0.
  int Print(const nlohmann::json& doc, const std::string& human = "");
  // Prints an error and returns 1.
  int Fail(const Error& e);
  Result<Api*> Connect() { return env.connect ? env.connect() : Result<Api*>(NoEnclave()); }
  static Error NoEnclave();
};

// Renders a JSON document as indented "key: value" lines for people.
std::string HumanJson(const nlohmann::json& doc, int indent = 0);

// The largest input one request carries whole (the wire protocol's frame limit, less room for
// the rest of the request).
inline constexpr size_t kMaxRequestInput = (1 << 20) - 4096;
// What a command that needs no daemon (encrypt, verify) reads whole at most.
inline constexpr size_t kMaxLocalInput = size_t{256} << 20;
// Reads a file of at most `limit` bytes; a larger one is errSecParam (cause input-too-large)
// after reading no more than limit + 1 bytes, so /dev/zero ends too. A directory or an
// unreadable file is errSecParam (cause bad-parameter).
Result<Bytes> ReadFileBytes(const std::string& path, size_t limit = kMaxRequestInput);
// Hashes a file of any size (or an endless stream, until it ends) in bounded memory.
Result<Bytes> HashFile(const std::string& path, crypto::Hash hash);
// A message to sign: kept whole when it has at most `keep_limit` bytes (the enclave hashes it,
// and this process never starts a digest: OpenSSL's initialisation is a third of a short
// command's time), else hashed here as it is read.
struct MessageInput {
  bool hashed = false;
  Bytes bytes;  // the message, or its digest when hashed
};
Result<MessageInput> ReadOrHashFile(const std::string& path, crypto::Hash hash, size_t keep_limit);
Status WriteFileBytes(const std::string& path, ByteView data);
// Reads one line (without the line end) from the environment's input, for --passcode-stdin.
Result<SecureBytes> ReadSecretLine(Environment& env, const std::string& what);

// Key selection options shared by every command that names keys.
struct Selector {
  std::string label, application_label, application_label_hex, application_tag, application_tag_hex, kid,
      token, access_group;
  std::vector<CLI::Option*> options;

  void AddTo(CLI::App* cmd);
  bool empty() const;
  Result<KeyQuery> ToQuery(bool match_all) const;
};

// Text or hex into bytes, for --application-label[-hex] and --application-tag[-hex].
Result<std::optional<Bytes>> TextOrHex(const CLI::Option* text_opt, const std::string& text,
                                       const CLI::Option* hex_opt, const std::string& hex,
                                       const std::string& what);

// Runs a private-key operation; when it fails with errSecAuthNeeded and user_info.needs is
// "passcode" or "application-password", asks for that secret (a stdin line with
// --passcode-stdin, else pinentry) and retries once.
template <typename T, typename Op>
Result<T> WithPasscodeRetry(Context& ctx, AuthOptions& auth, bool from_stdin, Op&& op);

// "passcode" | "application-password" when the error asks for that secret, else "".
std::string NeededSecret(const Error& e);
Status AskSecretInto(Context& ctx, AuthOptions& auth, const std::string& needs, bool from_stdin);

template <typename T, typename Op>
Result<T> WithPasscodeRetry(Context& ctx, AuthOptions& auth, bool from_stdin, Op&& op) {
  Result<T> r = op(auth);
  if (r.ok()) return r;
  const std::string needs = NeededSecret(r.error());
  if (needs.empty()) return r;
  RETURN_IF_ERROR(AskSecretInto(ctx, auth, needs, from_stdin));
  return op(auth);
}

// Command groups register their subcommands on the app; each callback sets ctx.status.
void AddKeyCommands(CLI::App& app, Context& ctx);
void AddOperationCommands(CLI::App& app, Context& ctx);
void AddAdminCommands(CLI::App& app, Context& ctx);
void AddLocalCommands(CLI::App& app, Context& ctx);
// The hidden `__generate man|bash-completion`, which renders `app`'s own tree (docgen.cpp).
void AddGenerateCommand(CLI::App& app, Context& ctx);
void AddSshAgentCommands(CLI::App& app, Context& ctx);
// `webauthn create|get` (webauthn.cpp) and `rp register|login|reenroll` (rp.cpp).
void AddWebAuthnCommands(CLI::App& app, Context& ctx);
void AddRpCommands(CLI::App& app, Context& ctx);
// `report show|send` (report.cpp): the fleet reports of this device.
void AddReportCommands(CLI::App& app, Context& ctx);

// Writes Admin("sysdiagnose")'s files plus the CLI's own version file into a .tar.gz.
Status WriteDiagnosticsBundle(const nlohmann::json& report, const std::string& out_path);
// The CLI's version facts (also in the bundle).
nlohmann::json CliVersionInfo();

}  // namespace enclave::cli
