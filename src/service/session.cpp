#include "service/session.h"

#include <algorithm>

#include "crypto/algorithm.h"
#include "crypto/ec.h"

namespace enclave::service {

std::unique_ptr<Session> MakeSession(EnclaveImpl& enclave, const Peer& peer) {
  return std::make_unique<SessionImpl>(enclave, peer);
}

SessionImpl::SessionImpl(EnclaveImpl& enclave, Peer peer) : enclave_(enclave), peer_(std::move(peer)) {}

Result<keychain::Keychain*> SessionImpl::EphemeralStore() {
  if (!ephemeral_) {
    ASSIGN_OR_RETURN(ephemeral_, keychain::Keychain::OpenInMemory());
  }
  return ephemeral_.get();
}

std::vector<keychain::Keychain*> SessionImpl::Stores() {
  if (!ephemeral_) return {&enclave_.keychain()};
  return {&enclave_.keychain(), ephemeral_.get()};
}

Result<KeyInfo> SessionImpl::CreateKey(const KeySpec& spec) {
  keychain::Keychain* store = &enclave_.keychain();
  if (!spec.permanent) {
    ASSIGN_OR_RETURN(store, EphemeralStore());
  }
  ASSIGN_OR_RETURN(keychain::KeyItem item, enclave_.GenerateItem(spec));
  ASSIGN_OR_RETURN(keychain::KeyItem stored, store->Add(std::move(item)));
  return ToKeyInfo(stored, enclave_.Describe(stored));
}

Result<std::vector<KeyInfo>> SessionImpl::FindKeys(const KeyQuery& query) {
  std::vector<KeyInfo> out;
  for (keychain::Keychain* store : Stores()) {
    auto found = store->Find(ToItemQuery(query));
    if (!found.ok()) {
      if (found.error().code == errsec::kItemNotFound) continue;
      return found.error();
    }
    for (const auto& item : *found) out.push_back(ToKeyInfo(item, enclave_.Describe(item)));
    if (!query.match_all && !out.empty()) break;
  }
  if (out.empty()) {
    return OSStatusError(errsec::kItemNotFound, "no matching items found").WithCause("item-not-found");
  }
  return out;
}

Result<keychain::KeyItem> SessionImpl::FindOne(const KeyQuery& query) {
  KeyQuery one = query;
  one.match_all = false;
  for (keychain::Keychain* store : Stores()) {
    auto found = store->Find(ToItemQuery(one));
    if (found.ok() && !found->empty()) return found->front();
    if (!found.ok() && found.error().code != errsec::kItemNotFound) return found.error();
  }
  return OSStatusError(errsec::kItemNotFound, "no matching items found").WithCause("item-not-found");
}

Result<int> SessionImpl::UpdateKeys(const KeyQuery& query, const KeyChanges& changes) {
  keychain::ItemUpdate update;
  update.label = changes.label;
  update.application_tag = changes.application_tag;
  update.can_sign = changes.can_sign;
  update.can_derive = changes.can_derive;
  update.can_decrypt = changes.can_decrypt;
  update.ssh = changes.ssh;
  KeyQuery all = query;
  all.match_all = true;
  int count = 0;
  enclave_.NewKeyGeneration();
  for (keychain::Keychain* store : Stores()) {
    auto n = store->Update(ToItemQuery(all), update);
    if (n.ok()) {
      count += *n;
    } else if (n.error().code != errsec::kItemNotFound) {
      return n.error();
    }
  }
  if (count == 0) {
    return OSStatusError(errsec::kItemNotFound, "no matching items found").WithCause("item-not-found");
  }
  return count;
}

Result<int> SessionImpl::DeleteKeys(const KeyQuery& query) {
  KeyQuery all = query;
  all.match_all = true;
  int count = 0;
  enclave_.NewKeyGeneration();
  for (keychain::Keychain* store : Stores()) {
    auto n = store->Delete(ToItemQuery(all));
    if (n.ok()) {
      count += *n;
    } else if (n.error().code != errsec::kItemNotFound) {
      return n.error();
    }
  }
  if (count == 0) {
    return OSStatusError(errsec::kItemNotFound, "no matching items found").WithCause("item-not-found");
  }
  return count;
}

namespace {

Status CheckAlgorithm(const crypto::Algorithm& alg, crypto::Operation op, const char* what) {
  if (alg.operation != op) {
    return OSStatusError(errsec::kParam, "algorithm " + alg.name + " is not " + what)
        .WithCause("unsupported-algorithm");
  }
  return Ok();
}

Status CheckCapability(bool allowed, const char* attribute) {
  if (!allowed) {
    return OSStatusError(errsec::kParam, std::string("algorithm not supported by the key: its ") + attribute +
                                             " attribute is false")
        .WithCause("unsupported-algorithm");
  }
  return Ok();
}

}  // namespace

Result<auth::Evaluation> SessionImpl::Authenticate(const keychain::KeyItem& item,
                                                   const AuthOptions& options) {
  ASSIGN_OR_RETURN(auth::AccessPolicy policy, auth::AccessPolicy::Deserialize(item.access_control));
  auth::AuthRequest request;
  request.operation_prompt = options.operation_prompt;
  request.interaction_allowed = options.interaction_allowed;
  request.passcode = options.passcode;
  request.application_password = options.application_password;
  if (options.context_id) {
    ASSIGN_OR_RETURN(request.already_satisfied, contexts_.Satisfied(*options.context_id));
  }
  auto provider = enclave_.biometry();
  auth::EvaluatorDeps deps;
  deps.biometry = provider.get();
  deps.passcode_set = enclave_.keybag().State().passcode_set;
  deps.verify_passcode = [this](const SecureBytes& p) { return enclave_.keybag().VerifyPasscode(p); };
  ASSIGN_OR_RETURN(auth::Evaluation evaluation, auth::Evaluate(policy, request, deps));
  if (options.context_id && !evaluation.satisfied.empty()) {
    RETURN_IF_ERROR(contexts_.Record(*options.context_id, evaluation.satisfied));
  }
  return evaluation;
}

Result<OperationResult> SessionImpl::PrivateOperation(const keychain::KeyItem& item,
                                                      const std::string& operation, const AuthOptions& auth,
                                                      const KeyUse& use) {
  RETURN_IF_ERROR(enclave_.CheckUsable(item, operation));
  ASSIGN_OR_RETURN(auth::Evaluation evaluation, Authenticate(item, auth));
  // Read before loading: an invalidation while the key loads leaves it cached under a stale
  // generation, so it is never used again.
  const uint64_t generation = enclave_.key_generation();
  KeyCache& cache = item.permanent ? enclave_.key_cache() : ephemeral_keys_;
  std::shared_ptr<token::Key> key = cache.Find(item, generation);
  const bool cached = key != nullptr;
  auto load = [&]() -> Status {
    auto unwrapped = enclave_.Unwrap(item, operation);
    if (!unwrapped.ok()) {
      Error e = std::move(unwrapped).error();
      e.prompted = evaluation.prompted;
      return e;
    }
    key = std::move(unwrapped->key);
    cache.Put(item, generation, key);
    return Ok();
  };
  if (!cached) RETURN_IF_ERROR(load());
  auto output = use(*key);
  if (!output.ok() && cached &&
      (output.error().domain == domain::kCryptoTokenKit || output.error().domain == domain::kTPM)) {
    // The token may have lost the key since it was loaded (a TPM cleared or replaced): load it
    // again, as an uncached request would, and report what that says.
    cache.Drop(item.kid);
    RETURN_IF_ERROR(load());
    output = use(*key);
  }
  if (!output.ok()) {
    Error e = std::move(output).error();
    if (e.domain == domain::kCryptoTokenKit || e.domain == domain::kTPM) {
      e = enclave_.TokenRefusal(item, operation, e);
    }
    e.prompted = evaluation.prompted;
    return e;
  }
  OperationResult r;
  r.kid = item.kid;
  r.output = std::move(output).value();
  r.prompted = evaluation.prompted;
  return r;
}

Result<OperationResult> SessionImpl::Sign(const KeyQuery& key, const std::string& algorithm,
                                          const Bytes& input, const AuthOptions& auth) {
  ASSIGN_OR_RETURN(crypto::Algorithm alg, crypto::FindAlgorithm(algorithm));
  RETURN_IF_ERROR(CheckAlgorithm(alg, crypto::Operation::kSign, "a signature algorithm"));
  ASSIGN_OR_RETURN(Bytes digest, crypto::SignatureInputDigest(alg, input));
  ASSIGN_OR_RETURN(keychain::KeyItem item, FindOne(key));
  RETURN_IF_ERROR(CheckCapability(item.can_sign, "can-sign"));
  auto result = PrivateOperation(item, "sign digest", auth, [&](token::Key& k) -> Result<Bytes> {
    ASSIGN_OR_RETURN(Bytes der, k.SignDigestSlowly(digest));
    return crypto::SignatureOutput(alg, der);
  });
  if (result.ok()) {
    result->algorithm = alg.name;
  } else {
    enclave_.fleet().NoteFailure(item, "sign", result.error(), /*found_by_doctor=*/false);
  }
  return result;
}

Result<OperationResult> SessionImpl::Decrypt(const KeyQuery& key, const std::string& algorithm,
                                             const Bytes& ciphertext, const AuthOptions& auth) {
  ASSIGN_OR_RETURN(crypto::Algorithm alg, crypto::FindAlgorithm(algorithm));
  RETURN_IF_ERROR(CheckAlgorithm(alg, crypto::Operation::kEncrypt, "an encryption algorithm"));
  ASSIGN_OR_RETURN(crypto::EcPublicKey ephemeral, crypto::EciesEphemeralKey(ciphertext));
  ASSIGN_OR_RETURN(keychain::KeyItem item, FindOne(key));
  RETURN_IF_ERROR(CheckCapability(item.can_decrypt, "can-decrypt"));
  const Bytes peer = ephemeral.X963();
  auto result = PrivateOperation(item, "compute shared secret", auth, [&](token::Key& k) -> Result<Bytes> {
    ASSIGN_OR_RETURN(SecureBytes z, k.ComputeSharedSecretSlowly(peer));
    ASSIGN_OR_RETURN(SecureBytes plain, crypto::EciesDecryptWithSharedSecret(alg, ciphertext, z));
    return Bytes(plain.data(), plain.data() + plain.size());
  });
  if (result.ok()) {
    result->algorithm = alg.name;
  } else {
    enclave_.fleet().NoteFailure(item, "decrypt", result.error(), /*found_by_doctor=*/false);
  }
  return result;
}

Result<OperationResult> SessionImpl::KeyExchange(const KeyQuery& key, const std::string& algorithm,
                                                 const Bytes& peer_public_key,
                                                 std::optional<size_t> requested_size,
                                                 const Bytes& shared_info, const AuthOptions& auth) {
  ASSIGN_OR_RETURN(crypto::Algorithm alg, crypto::FindAlgorithm(algorithm));
  RETURN_IF_ERROR(CheckAlgorithm(alg, crypto::Operation::kKeyExchange, "a key exchange algorithm"));
  if (alg.kdf && !requested_size) {
    return OSStatusError(errsec::kParam, "algorithm " + alg.name + " needs a requested size")
        .WithCause("bad-parameter");
  }
  ASSIGN_OR_RETURN(crypto::EcPublicKey peer, crypto::EcPublicKey::Parse(peer_public_key));
  ASSIGN_OR_RETURN(keychain::KeyItem item, FindOne(key));
  RETURN_IF_ERROR(CheckCapability(item.can_derive, "can-derive"));
  const Bytes point = peer.X963();
  auto result = PrivateOperation(item, "compute shared secret", auth, [&](token::Key& k) -> Result<Bytes> {
    ASSIGN_OR_RETURN(SecureBytes z, k.ComputeSharedSecretSlowly(point));
    ASSIGN_OR_RETURN(SecureBytes out, crypto::KeyExchangeOutput(alg, z, requested_size, shared_info));
    return Bytes(out.data(), out.data() + out.size());
  });
  if (result.ok()) {
    result->algorithm = alg.name;
  } else {
    enclave_.fleet().NoteFailure(item, "ecdh", result.error(), /*found_by_doctor=*/false);
  }
  return result;
}

Result<Bytes> SessionImpl::ExportPrivateKey(const KeyQuery& key) {
  ASSIGN_OR_RETURN(keychain::KeyItem item, FindOne(key));
  return OSStatusError(errsec::kUnimplemented, enclave_.Describe(item) + ": export not implemented for key")
      .WithCause("unimplemented");
}

Result<std::string> SessionImpl::CreateAuthContext(int reuse_seconds) {
  return contexts_.Create(reuse_seconds);
}

Status SessionImpl::InvalidateAuthContext(const std::string& context_id) {
  RETURN_IF_ERROR(contexts_.Satisfied(context_id));
  contexts_.Invalidate(context_id);
  return Ok();
}

Status SessionImpl::CheckKeyUsable(const KeyQuery& key) {
  ASSIGN_OR_RETURN(keychain::KeyItem item, FindOne(key));
  return enclave_.CheckUsable(item, "sign digest");
}

void SessionImpl::RecordEvent(const std::string& kind, const std::string& cause,
                              const std::vector<std::string>& kids, nlohmann::json details) {
  enclave_.RecordEvent(kind, cause, kids, std::move(details));
}

bool SessionImpl::RecordEventOnce(const std::string& kind, const std::string& cause, const std::string& kid,
                                  nlohmann::json details) {
  return enclave_.RecordEventOnce(kind, cause, kid, std::move(details));
}

Result<nlohmann::json> SessionImpl::Admin(const std::string& command, const nlohmann::json& args,
                                          const std::vector<SecureBytes>& secrets) {
  // Lock, passcode, biometry, TPM and configuration changes all arrive here: whatever the command,
  // no key loaded before it is used after it without loading again.
  enclave_.NewKeyGeneration();
  auto result = RunAdmin(enclave_, *this, command, args, secrets);
  enclave_.NewKeyGeneration();
  return result;
}

}  // namespace enclave::service
