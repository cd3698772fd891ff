// The key lifecycle shared by every operation: generate and seal, check without prompting,
// unseal and load. Errors take the shapes the phone platform's clients see.
#include <chrono>

#include "crypto/ec.h"
#include "service/enclave_impl.h"

namespace enclave::service {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<keybag::ProtectionClass> ClassOf(const keychain::KeyItem& item) {
  for (auto c : keybag::AllProtectionClasses()) {
    if (keybag::PlatformCode(c) == item.accessible) return c;
  }
  return KeystoreError(aks::kError, "unknown protection class '" + item.accessible + "'")
      .WithCause("key-blob-corrupt");
}

}  // namespace

Bytes BoundAttributes(const keychain::KeyItem& item) {
  nlohmann::json j = {{"v", 1},
                      {"kid", item.kid},
                      {"token", item.token},
                      {"class", item.key_class},
                      {"type", item.key_type},
                      {"size", item.key_size},
                      {"application_label", HexEncode(item.application_label)},
                      {"access_group", item.access_group},
                      {"accessible", item.accessible},
                      {"access_control", item.access_control},
                      {"public_key", HexEncode(item.public_key_x963)}};
  return ToBytes(j.dump());
}

std::string EnclaveImpl::Describe(const keychain::KeyItem& item) {
  auto token = GetToken(item.token);
  std::string tag = token.ok() ? std::string((*token)->description_tag()) : item.token;
  return token::KeyDescription(tag, item.kid);
}

Error EnclaveImpl::TokenRefusal(const keychain::KeyItem& item, const std::string& operation,
                                const Error& inner) {
  const std::string text = Describe(item) + ": unable to " + operation;
  Error e = TokenError(tkerror::kCorruptedData, text);
  e.user_info["NSDebugDescription"] = text;
  if (inner.domain == domain::kAKS) e.user_info["AKSError"] = inner.code;
  if (inner.user_info.contains("TPMError")) e.user_info["TPMError"] = inner.user_info["TPMError"];
  e.cause = inner.effective_cause();
  e.underlying = std::make_shared<Error>(inner);
  e.prompted = inner.prompted;
  return e;
}

Result<keychain::KeyItem> EnclaveImpl::GenerateItem(const KeySpec& spec) {
  const bool ec = spec.key_type == "ec" || spec.key_type == "ecsecprimerandom" || spec.key_type == "73";
  if (!ec || spec.key_size != 256) {
    return OSStatusError(errsec::kParam, "the " + spec.token +
                                             " token holds only EC P-256 keys (key type ec, 256 bits); "
                                             "asked for key type '" +
                                             spec.key_type + "', " + std::to_string(spec.key_size) + " bits")
        .WithCause("bad-parameter");
  }
  ASSIGN_OR_RETURN(keybag::ProtectionClass pclass, keybag::ParseAccessible(spec.accessible));
  ASSIGN_OR_RETURN(auth::AccessPolicy policy, auth::AccessPolicy::FromNames(spec.access_control, true));
  RETURN_IF_ERROR(auth::BindPolicyAtCreation(policy, biometry().get()));
  if (spec.application_label && spec.application_label->empty()) {
    return OSStatusError(errsec::kParam, "the application label must not be empty")
        .WithCause("bad-parameter");
  }
  ASSIGN_OR_RETURN(token::Token * token, GetToken(spec.token));
  ASSIGN_OR_RETURN(token::GeneratedKey generated, token->GenerateKeySlowly());

  keychain::KeyItem item;
  item.public_key_x963 = generated.key->PublicKeyX963();
  item.kid = token::KeyId(item.public_key_x963);
  item.label = spec.label.value_or("");
  item.application_label = spec.application_label ? *spec.application_label
                                                  : crypto::Digest(crypto::Hash::kSha1, item.public_key_x963);
  item.application_tag = spec.application_tag.value_or(Bytes{});
  item.access_group = spec.access_group.value_or("");
  item.token = std::string(token->id());
  item.permanent = spec.permanent;
  item.can_sign = spec.can_sign.value_or(true);
  item.can_derive = spec.can_derive.value_or(true);
  item.can_decrypt = spec.can_decrypt.value_or(true);
  item.ssh = spec.ssh;
  item.created_ms = item.modified_ms = NowMs();
  item.accessible = keybag::PlatformCode(pclass);
  item.access_control = policy.Serialize();
  ASSIGN_OR_RETURN(item.sealed_blob, keybag_->Seal(pclass, generated.token_blob, BoundAttributes(item)));
  return item;
}

Status EnclaveImpl::CheckUsable(const keychain::KeyItem& item, const std::string& operation) {
  if (auto lost = LostKeyCause(item.kid)) {
    return TokenRefusal(
        item, operation,
        KeystoreError(aks::kBadDeviceKey, "the keybag that protected this key was re-created (" + *lost +
                                              "); the key cannot be recovered")
            .WithCause(*lost));
  }
  auto policy = auth::AccessPolicy::Deserialize(item.access_control);
  if (!policy.ok()) {
    return TokenRefusal(
        item, operation,
        KeystoreError(aks::kError, "the stored access control is not valid: " + policy.error().description)
            .WithCause("key-blob-corrupt"));
  }
  if (policy->needs_biometry()) {
    auto state = BiometryStateNow();
    if (!state.ok()) return state.error();
    Status satisfiable = auth::CheckStillSatisfiable(*policy, *state);
    if (!satisfiable.ok()) {
      Error e = TokenRefusal(item, operation, satisfiable.error());
      e.prompted = false;
      return e;
    }
  }
  auto pclass = ClassOf(item);
  if (!pclass.ok()) return TokenRefusal(item, operation, pclass.error());
  Status available = keybag_->CheckClassAvailable(*pclass);
  if (!available.ok()) {
    const Error& inner = available.error();
    if (inner.domain == domain::kAKS && inner.code == aks::kNoPermission) {
      Error e = inner.Wrap(domain::kOSStatus, errsec::kInteractionNotAllowed,
                           Describe(item) + ": unable to " + operation + ": the key's protection class (" +
                               item.accessible + ") is not available while the device is locked");
      e.user_info["AKSError"] = inner.code;
      e.prompted = false;
      return e;
    }
    return TokenRefusal(item, operation, inner);
  }
  return Ok();
}

Result<SecureBytes> EnclaveImpl::UnsealTokenBlob(const keychain::KeyItem& item,
                                                 const std::string& operation) {
  if (item.sealed_blob.empty()) {
    return TokenRefusal(
        item, operation,
        KeystoreError(aks::kError, "the key item has no key blob").WithCause("key-blob-missing"));
  }
  auto pclass = ClassOf(item);
  if (!pclass.ok()) return TokenRefusal(item, operation, pclass.error());
  auto token_blob = keybag_->Unseal(*pclass, item.sealed_blob, BoundAttributes(item));
  if (!token_blob.ok()) {
    const Error& inner = token_blob.error();
    if (inner.domain == domain::kAKS && inner.code == aks::kNoPermission) {
      RETURN_IF_ERROR(CheckUsable(item, operation));  // gives the locked-class error shape
    }
    return TokenRefusal(item, operation, inner);
  }
  return std::move(token_blob).value();
}

Result<UnwrappedKey> EnclaveImpl::Unwrap(const keychain::KeyItem& item, const std::string& operation) {
  ASSIGN_OR_RETURN(SecureBytes token_blob, UnsealTokenBlob(item, operation));
  ASSIGN_OR_RETURN(token::Token * token, GetToken(item.token));
  auto key = token->LoadKey(token_blob);
  if (!key.ok()) return TokenRefusal(item, operation, key.error());
  if (!ConstantTimeEquals((*key)->PublicKeyX963(), item.public_key_x963)) {
    return TokenRefusal(item, operation,
                        KeystoreError(aks::kError, "the private key does not match the stored public key")
                            .WithCause("key-blob-corrupt"));
  }
  return UnwrappedKey{item, std::move(key).value()};
}

KeyInfo ToKeyInfo(const keychain::KeyItem& item, const std::string& description) {
  KeyInfo k;
  k.kid = item.kid;
  k.persistent_id = item.persistent_id;
  k.description = description;
  k.label = item.label;
  k.application_label = item.application_label;
  k.application_tag = item.application_tag;
  k.access_group = item.access_group;
  k.token = item.token;
  k.key_class = item.key_class;
  k.key_type = item.key_type;
  k.key_size = item.key_size;
  k.permanent = item.permanent;
  k.can_sign = item.can_sign;
  k.can_derive = item.can_derive;
  k.can_decrypt = item.can_decrypt;
  k.created_ms = item.created_ms;
  k.modified_ms = item.modified_ms;
  k.accessible = item.accessible;
  for (auto c : keybag::AllProtectionClasses()) {
    if (keybag::PlatformCode(c) == item.accessible) k.accessible = keybag::AccessibleName(c);
  }
  auto policy = auth::AccessPolicy::Deserialize(item.access_control);
  if (policy.ok()) k.access_control = policy->Names();
  k.public_key_x963 = item.public_key_x963;
  k.ssh = item.ssh;
  return k;
}

keychain::ItemQuery ToItemQuery(const KeyQuery& q) {
  keychain::ItemQuery iq;
  iq.kid = q.kid;
  iq.persistent_id = q.persistent_id;
  iq.label = q.label;
  iq.application_label = q.application_label;
  iq.application_tag = q.application_tag;
  iq.access_group = q.access_group;
  iq.token = q.token;
  iq.ssh = q.ssh;
  iq.match_all = q.match_all;
  return iq;
}

}  // namespace enclave::service
