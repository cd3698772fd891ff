// Private-key operations through the enclave: sign, decrypt, key-exchange.
#include <memory>

#include "cli/context.h"
#include "crypto/algorithm.h"
#include "crypto/ec.h"
#include "crypto/message_digest.h"

namespace enclave::cli {
namespace {

struct OperationOptions {
  Selector sel;
  std::string algorithm, prompt, in, out, peer_public_key, shared_info_hex;
  CLI::Option *out_opt = nullptr, *size_opt = nullptr;
  size_t requested_size = 0;
  bool passcode_stdin = false;
};

enum class Kind { kSign, kDecrypt, kKeyExchange };

// The input of a sign or decrypt. A larger message to sign with a message algorithm is hashed
// here as it is read (any size, bounded memory) and *algorithm becomes the matching digest
// algorithm; everything else must fit in one request.
Result<Bytes> ReadOperationInput(const std::string& path, Kind kind, std::string* algorithm) {
  if (kind == Kind::kSign) {
    if (auto alg = crypto::FindAlgorithm(*algorithm); alg.ok() && alg->hash) {
      if (auto digest_alg = crypto::DigestCounterpart(*alg)) {
        ASSIGN_OR_RETURN(MessageInput input, ReadOrHashFile(path, *alg->hash, crypto::kLargestMessageSentWhole));
        if (input.hashed) *algorithm = digest_alg->name;
        return std::move(input.bytes);
      }
    }
  }
  return ReadFileBytes(path);
}

int RunOperation(Context& ctx, const OperationOptions& o, Kind kind) {
  if (o.sel.empty()) {
    return ctx.Fail(OSStatusError(errsec::kParam, "select the key (--label, --application-label, --kid, ...)")
                        .WithCause("bad-parameter"));
  }
  auto q = o.sel.ToQuery(false);
  if (!q.ok()) return ctx.Fail(q.error());
  std::string algorithm = o.algorithm;
  Bytes input;
  Bytes shared_info;
  if (kind == Kind::kKeyExchange) {
    auto peer_file = ReadFileBytes(o.peer_public_key);
    if (!peer_file.ok()) return ctx.Fail(peer_file.error());
    auto peer = crypto::EcPublicKey::Parse(*peer_file);
    if (!peer.ok()) return ctx.Fail(peer.error());
    input = peer->X963();
    if (!o.shared_info_hex.empty()) {
      auto si = HexDecode(o.shared_info_hex);
      if (!si)
        return ctx.Fail(
            OSStatusError(errsec::kParam, "--shared-info-hex: not hex").WithCause("bad-parameter"));
      shared_info = std::move(*si);
    }
  } else {
    auto data = ReadOperationInput(o.in, kind, &algorithm);
    if (!data.ok()) return ctx.Fail(data.error());
    input = std::move(*data);
  }
  auto api = ctx.Connect();
  if (!api.ok()) return ctx.Fail(api.error());
  AuthOptions auth;
  auth.operation_prompt = o.prompt;
  std::optional<size_t> size;
  if (o.size_opt != nullptr && o.size_opt->count() > 0) size = o.requested_size;
  auto r = WithPasscodeRetry<OperationResult>(ctx, auth, o.passcode_stdin, [&](const AuthOptions& a) {
    switch (kind) {
      case Kind::kSign:
        return (*api)->Sign(*q, algorithm, input, a);
      case Kind::kDecrypt:
        return (*api)->Decrypt(*q, algorithm, input, a);
      case Kind::kKeyExchange:
        break;
    }
    return (*api)->KeyExchange(*q, algorithm, input, size, shared_info, a);
  });
  if (!r.ok()) return ctx.Fail(r.error());
  // A message hashed here was signed as its digest; the caller asked for the message algorithm.
  if (r->algorithm == algorithm) r->algorithm = o.algorithm;

  const bool to_file = o.out_opt->count() > 0 && o.out != "-";
  if (to_file) {
    if (auto s = WriteFileBytes(o.out, r->output); !s.ok()) return ctx.Fail(s.error());
  }
  nlohmann::json doc{{"kid", r->kid}, {"algorithm", r->algorithm}, {"prompted", r->prompted}};
  if (kind == Kind::kSign) doc["signature"] = HexEncode(r->output);
  if (kind != Kind::kSign) doc["size"] = r->output.size();
  if (to_file) doc["out"] = o.out;
  if (ctx.json) {
    // Plaintexts and shared secrets are not repeated in the JSON report; they go to --out only.
    if (!to_file && kind != Kind::kSign) {
      return ctx.Fail(
          OSStatusError(errsec::kParam, "--json needs --out FILE for the output").WithCause("bad-parameter"));
    }
    return ctx.Print(doc);
  }
  if (to_file) {
    const char* what = kind == Kind::kSign      ? "signature"
                       : kind == Kind::kDecrypt ? "plaintext"
                                                : "shared secret";
    return ctx.Print(doc, std::string("wrote ") + what + " (" + std::to_string(r->output.size()) +
                              " bytes) to " + o.out + " with key " + r->kid +
                              (r->prompted ? " (user authenticated)" : "") + "\n");
  }
  if (kind == Kind::kSign) {
    *ctx.env.out << HexEncode(r->output) << "\n";
  } else {
    ctx.env.out->write(reinterpret_cast<const char*>(r->output.data()),
                       static_cast<std::streamsize>(r->output.size()));
  }
  return 0;
}

CLI::App* AddOperation(CLI::App& app, Context& ctx, const char* name, const char* help, Kind kind) {
  auto o = std::make_shared<OperationOptions>();
  CLI::App* cmd = app.add_subcommand(name, help);
  o->sel.AddTo(cmd);
  cmd->add_option("--algorithm", o->algorithm, "algorithm name (see docs/cli.md)")->required();
  cmd->add_option("--prompt", o->prompt, "operation prompt shown to the user");
  if (kind == Kind::kKeyExchange) {
    cmd->add_option("--peer-public-key", o->peer_public_key, "peer public key file (PEM, DER or X9.63)")
        ->required();
    o->size_opt = cmd->add_option("--requested-size", o->requested_size, "KDF output size in bytes");
    cmd->add_option("--shared-info-hex", o->shared_info_hex, "KDF shared info (hex)");
  } else {
    cmd->add_option("--in", o->in, kind == Kind::kSign ? "data (or digest) to sign" : "ciphertext")
        ->required();
  }
  o->out_opt = cmd->add_option("--out", o->out, "output file");
  cmd->add_flag("--passcode-stdin", o->passcode_stdin,
                "read the passcode from standard input when one is needed");
  cmd->callback([&ctx, o, kind] { ctx.status = RunOperation(ctx, *o, kind); });
  return cmd;
}

}  // namespace

void AddOperationCommands(CLI::App& app, Context& ctx) {
  AddOperation(app, ctx, "sign", "sign data (or a digest) with a key in the enclave", Kind::kSign);
  AddOperation(app, ctx, "decrypt", "decrypt an ECIES ciphertext with a key in the enclave", Kind::kDecrypt);
  AddOperation(app, ctx, "key-exchange", "ECDH with a key in the enclave (raw or X9.63 KDF)",
               Kind::kKeyExchange);
}

}  // namespace enclave::cli
