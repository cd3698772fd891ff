// Commands that need no daemon: encrypt, verify, verify-rotation, verify-attestation, explain.
#include <memory>

#include "cli/context.h"
#include "common/explain.h"
#include "crypto/algorithm.h"
#include "crypto/ec.h"

#if ENCLAVE_CLI_HAVE_TPM2_VERIFY
#include "token/tpm2/tpm2_attestation.h"
#endif

namespace enclave::cli {
namespace {

constexpr char kRotationAlgorithm[] = "ecdsa-signature-message-x962-sha256";

Result<crypto::EcPublicKey> ReadPublicKey(const std::string& path) {
  ASSIGN_OR_RETURN(Bytes data, ReadFileBytes(path));
  return crypto::EcPublicKey::Parse(data);
}

struct LocalOptions {
  std::string public_key, algorithm, in, out, signature;
  CLI::Option* out_opt = nullptr;
};

int Encrypt(Context& ctx, const LocalOptions& o) {
  auto alg = crypto::FindAlgorithm(o.algorithm);
  if (!alg.ok()) return ctx.Fail(alg.error());
  auto key = ReadPublicKey(o.public_key);
  if (!key.ok()) return ctx.Fail(key.error());
  auto plaintext = ReadFileBytes(o.in, kMaxLocalInput);
  if (!plaintext.ok()) return ctx.Fail(plaintext.error());
  auto ct = crypto::EciesEncrypt(*alg, *key, *plaintext);
  if (!ct.ok()) return ctx.Fail(ct.error());
  if (auto s = WriteFileBytes(o.out, *ct); !s.ok()) return ctx.Fail(s.error());
  return ctx.Print({{"algorithm", alg->name}, {"out", o.out}, {"size", ct->size()}},
                   "wrote " + std::to_string(ct->size()) + " bytes of ciphertext to " + o.out + "\n");
}

int Verify(Context& ctx, const LocalOptions& o) {
  auto alg = crypto::FindAlgorithm(o.algorithm);
  if (!alg.ok()) return ctx.Fail(alg.error());
  auto key = ReadPublicKey(o.public_key);
  if (!key.ok()) return ctx.Fail(key.error());
  // A message is hashed as it is read, as `sign` does: any size in bounded memory.
  crypto::Algorithm check = *alg;
  Result<Bytes> data = Bytes{};
  if (auto digest_alg = alg->hash ? crypto::DigestCounterpart(*alg) : std::nullopt) {
    check = *digest_alg;
    data = HashFile(o.in, *alg->hash);
  } else {
    data = ReadFileBytes(o.in, kMaxLocalInput);
  }
  if (!data.ok()) return ctx.Fail(data.error());
  auto sig = ReadFileBytes(o.signature);
  if (!sig.ok()) return ctx.Fail(sig.error());
  if (auto s = crypto::VerifySignature(check, *key, *data, *sig); !s.ok()) return ctx.Fail(s.error());
  return ctx.Print({{"valid", true}, {"algorithm", alg->name}}, "signature is valid\n");
}

Error BadStatement(const std::string& why) {
  return OSStatusError(errsec::kParam, "rotation statement: " + why).WithCause("rotation-statement-invalid");
}

// The file may hold the JSON document itself or its hex (as `key reenroll --json` prints it).
Result<nlohmann::json> ParseStatement(ByteView bytes) {
  std::string text = ToString(bytes);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  if (!text.empty() && text.front() != '{') {
    auto decoded = HexDecode(text);
    if (!decoded) return BadStatement("neither JSON nor hex");
    text = ToString(*decoded);
  }
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return BadStatement("not a JSON object");
  return j;
}

int VerifyRotation(Context& ctx, const std::string& in, const std::string& old_key_file) {
  auto bytes = ReadFileBytes(in);
  if (!bytes.ok()) return ctx.Fail(bytes.error());
  auto fields = VerifyRotationStatement(*bytes);
  if (!fields.ok()) return ctx.Fail(fields.error());
  if (!old_key_file.empty()) {
    auto expected = ReadPublicKey(old_key_file);
    if (!expected.ok()) return ctx.Fail(expected.error());
    if (HexEncode(expected->X963()) != (*fields)["old_public_key_x963"].get<std::string>()) {
      return ctx.Fail(OSStatusError(errsec::kVerifyFailed,
                                    "the statement was signed by another key than --old-public-key")
                          .WithCause("rotation-statement-invalid"));
    }
  }
  nlohmann::json doc = *fields;
  doc["valid"] = true;
  return ctx.Print(doc, "rotation statement is valid: " + doc.value("old_kid", std::string("old key")) +
                            " -> " + doc.value("new_kid", std::string("new key")) +
                            "\nnew public key (X9.63): " + doc["new_public_key_x963"].get<std::string>() +
                            "\n");
}

int VerifyAttestation(Context& ctx, const std::string& in, const std::string& public_key) {
#if ENCLAVE_CLI_HAVE_TPM2_VERIFY
  auto bytes = ReadFileBytes(in);
  if (!bytes.ok()) return ctx.Fail(bytes.error());
  auto doc = nlohmann::json::parse(ToString(*bytes), nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    return ctx.Fail(
        OSStatusError(errsec::kDecode, "attestation: not a JSON document").WithCause("attestation-invalid"));
  }
  // `key attest` stores the service's report; the statement may sit under "statement".
  const nlohmann::json statement =
      doc.contains("statement") && doc["statement"].is_object() ? doc["statement"] : doc;
  auto key = ReadPublicKey(public_key);
  if (!key.ok()) return ctx.Fail(key.error());
  if (auto s = token::tpm2::VerifyAttestation(statement, key->X963()); !s.ok()) return ctx.Fail(s.error());
  return ctx.Print({{"valid", true}, {"public_key_x963", HexEncode(key->X963())}},
                   "attestation is valid: a TPM holding the attestation key certifies this key\n");
#else
  (void)in;
  (void)public_key;
  return ctx.Fail(OSStatusError(errsec::kUnimplemented, "this build has no TPM attestation verifier")
                      .WithCause("unimplemented"));
#endif
}

int Explain(Context& ctx, const std::vector<std::string>& words) {
  std::string text;
  for (const auto& w : words) text += (text.empty() ? "" : " ") + w;
  const explain::Explanation e = explain::Explain(text);
  if (ctx.json) {
    *ctx.env.out << explain::ToJson(e).dump(2) << "\n";
  } else {
    *(e.recognized() ? ctx.env.out : ctx.env.err) << explain::ToText(e);
  }
  return e.recognized() ? 0 : 1;
}

}  // namespace

Result<nlohmann::json> VerifyRotationStatement(ByteView statement) {
  ASSIGN_OR_RETURN(nlohmann::json j, ParseStatement(statement));
  for (const char* field : {"old_public_key_x963", "new_public_key_x963", "signature"}) {
    if (!j.contains(field) || !j[field].is_string()) return BadStatement(std::string("missing ") + field);
  }
  if (!j.contains("timestamp")) return BadStatement("missing timestamp");
  auto old_point = HexDecode(j["old_public_key_x963"].get<std::string>());
  auto new_point = HexDecode(j["new_public_key_x963"].get<std::string>());
  auto signature = HexDecode(j["signature"].get<std::string>());
  if (!old_point || !new_point || !signature) return BadStatement("a field is not hex");
  ASSIGN_OR_RETURN(crypto::EcPublicKey old_key, crypto::EcPublicKey::FromX963(*old_point));
  ASSIGN_OR_RETURN(crypto::EcPublicKey new_key, crypto::EcPublicKey::FromX963(*new_point));
  (void)new_key;  // parsed only to refuse a statement naming an invalid point
  if (j.contains("algorithm") && j["algorithm"] != kRotationAlgorithm)
    return BadStatement("unexpected algorithm");
  // Signed bytes: canonical JSON (nlohmann's sorted keys, no whitespace) of all but "signature".
  nlohmann::json body = j;
  body.erase("signature");
  ASSIGN_OR_RETURN(crypto::Algorithm alg, crypto::FindAlgorithm(kRotationAlgorithm));
  if (auto s = crypto::VerifySignature(alg, old_key, AsBytes(body.dump()), *signature); !s.ok()) {
    return OSStatusError(errsec::kVerifyFailed, "rotation statement: the old key's signature does not verify")
        .WithCause("rotation-statement-invalid");
  }
  return j;
}

void AddLocalCommands(CLI::App& app, Context& ctx) {
  auto enc = std::make_shared<LocalOptions>();
  CLI::App* e = app.add_subcommand("encrypt", "ECIES-encrypt to a public key (no daemon needed)");
  e->add_option("--public-key", enc->public_key, "recipient public key (PEM, DER or X9.63)")->required();
  e->add_option("--algorithm", enc->algorithm, "ecies-encryption-...-aes-gcm")->required();
  e->add_option("--in", enc->in, "plaintext file")->required();
  e->add_option("--out", enc->out, "ciphertext file")->required();
  e->callback([&ctx, enc] { ctx.status = Encrypt(ctx, *enc); });

  auto ver = std::make_shared<LocalOptions>();
  CLI::App* v = app.add_subcommand("verify", "verify a signature with a public key (no daemon needed)");
  v->add_option("--public-key", ver->public_key, "public key (PEM, DER or X9.63)")->required();
  v->add_option("--algorithm", ver->algorithm, "ecdsa-signature-...")->required();
  v->add_option("--in", ver->in, "signed data (or digest)")->required();
  v->add_option("--signature", ver->signature, "signature file")->required();
  v->callback([&ctx, ver] { ctx.status = Verify(ctx, *ver); });

  auto rot_in = std::make_shared<std::string>();
  auto rot_old = std::make_shared<std::string>();
  CLI::App* r = app.add_subcommand("verify-rotation", "check a key rotation statement from key reenroll");
  r->add_option("--in", *rot_in, "statement file (JSON, or its hex)")->required();
  r->add_option("--old-public-key", *rot_old, "also require that this key signed it");
  r->callback([&ctx, rot_in, rot_old] { ctx.status = VerifyRotation(ctx, *rot_in, *rot_old); });

  auto att_in = std::make_shared<std::string>();
  auto att_key = std::make_shared<std::string>();
  CLI::App* a = app.add_subcommand("verify-attestation", "check a TPM key attestation from key attest");
  a->add_option("--in", *att_in, "attestation file")->required();
  a->add_option("--public-key", *att_key, "the attested key's public key (PEM, DER or X9.63)")->required();
  a->callback([&ctx, att_in, att_key] { ctx.status = VerifyAttestation(ctx, *att_in, *att_key); });

  auto words = std::make_shared<std::vector<std::string>>();
  CLI::App* x = app.add_subcommand("explain", "decode a pasted error: codes, meaning, likely causes, remedy");
  x->add_option("TEXT", *words, "the error text (quote it, or pass it as several words)")->required();
  x->callback([&ctx, words] { ctx.status = Explain(ctx, *words); });
}

}  // namespace enclave::cli
