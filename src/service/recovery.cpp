// Re-enrollment: replace a key by a new one with the same identity and access control in one
// keychain transaction, and, when the old key can still sign, a rotation statement signed by it.
#include <chrono>

#include "crypto/algorithm.h"
#include "service/session.h"

namespace enclave::service {
namespace {

constexpr char kRotationAlgorithm[] = "ecdsa-signature-message-x962-sha256";

KeySpec SpecLike(const KeyInfo& old) {
  KeySpec spec;
  spec.label = old.label;
  spec.application_label = old.application_label;
  spec.application_tag = old.application_tag;
  spec.access_group = old.access_group;
  spec.token = old.token;
  spec.accessible = old.accessible;
  spec.access_control = old.access_control;
  spec.permanent = old.permanent;
  spec.can_sign = old.can_sign;
  spec.can_derive = old.can_derive;
  spec.can_decrypt = old.can_decrypt;
  return spec;
}

}  // namespace

// The statement's signed bytes: the canonical JSON (sorted keys, no spaces) of every field but
// "signature".
Bytes RotationStatementBody(const nlohmann::json& statement) {
  nlohmann::json body = statement;
  body.erase("signature");
  return ToBytes(body.dump());
}

Result<ReenrollResult> SessionImpl::Reenroll(const KeyQuery& key, const AuthOptions& auth) {
  ASSIGN_OR_RETURN(keychain::KeyItem old, FindOne(key));
  const KeyInfo old_info = ToKeyInfo(old, enclave_.Describe(old));
  ASSIGN_OR_RETURN(keychain::KeyItem fresh, enclave_.GenerateItem(SpecLike(old_info)));

  ReenrollResult result;
  result.old_kid = old.kid;
  if (enclave_.CheckUsable(old, "sign digest").ok()) {
    const auto now = std::chrono::system_clock::now();
    nlohmann::json statement = {
        {"type", "enclave-key-rotation/v1"},
        {"old_kid", old.kid},
        {"old_public_key_x963", HexEncode(old.public_key_x963)},
        {"new_kid", fresh.kid},
        {"new_public_key_x963", HexEncode(fresh.public_key_x963)},
        {"timestamp", std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count()},
        {"algorithm", kRotationAlgorithm}};
    const Bytes body = RotationStatementBody(statement);
    auto alg = crypto::FindAlgorithm(kRotationAlgorithm);
    auto signed_body = PrivateOperation(old, "sign digest", auth, [&](token::Key& k) -> Result<Bytes> {
      ASSIGN_OR_RETURN(Bytes digest, crypto::SignatureInputDigest(*alg, body));
      return k.SignDigestSlowly(digest);
    });
    // A key that cannot sign any more (or a user who declines) still gets re-enrolled.
    if (signed_body.ok()) {
      statement["signature"] = HexEncode(signed_body->output);
      result.rotation_statement = ToBytes(statement.dump());
    }
  }

  keychain::Keychain* store = &enclave_.keychain();
  if (!old.permanent) {
    ASSIGN_OR_RETURN(store, EphemeralStore());
  }
  enclave_.NewKeyGeneration();
  ASSIGN_OR_RETURN(keychain::KeyItem stored, store->Replace(old.persistent_id, std::move(fresh)));
  result.key = ToKeyInfo(stored, enclave_.Describe(stored));
  enclave_.RecordEvent("reenrolled", "reenroll", {old.kid, stored.kid},
                       {{"old_kid", old.kid}, {"new_kid", stored.kid}});
  return result;
}

}  // namespace enclave::service
