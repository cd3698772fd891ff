// One client's session over the Enclave: non-permanent keys and authentication contexts live as
// long as it does. Implements every Api operation with every check.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include "auth/context.h"
#include "service/enclave_impl.h"

namespace enclave::service {

class SessionImpl : public Session {
 public:
  SessionImpl(EnclaveImpl& enclave, Peer peer);

  Result<KeyInfo> CreateKey(const KeySpec& spec) override;
  Result<std::vector<KeyInfo>> FindKeys(const KeyQuery& query) override;
  Result<int> UpdateKeys(const KeyQuery& query, const KeyChanges& changes) override;
  Result<int> DeleteKeys(const KeyQuery& query) override;
  Result<OperationResult> Sign(const KeyQuery& key, const std::string& algorithm, const Bytes& input,
                               const AuthOptions& auth) override;
  Result<OperationResult> Decrypt(const KeyQuery& key, const std::string& algorithm, const Bytes& ciphertext,
                                  const AuthOptions& auth) override;
  Result<OperationResult> KeyExchange(const KeyQuery& key, const std::string& algorithm,
                                      const Bytes& peer_public_key, std::optional<size_t> requested_size,
                                      const Bytes& shared_info, const AuthOptions& auth) override;
  Result<Bytes> ExportPrivateKey(const KeyQuery& key) override;
  Result<std::string> CreateAuthContext(int reuse_seconds) override;
  Status InvalidateAuthContext(const std::string& context_id) override;
  Result<nlohmann::json> Admin(const std::string& command, const nlohmann::json& args,
                               const std::vector<SecureBytes>& secrets) override;
  Result<ReenrollResult> Reenroll(const KeyQuery& key, const AuthOptions& auth) override;
  Status CheckKeyUsable(const KeyQuery& key) override;
  void RecordEvent(const std::string& kind, const std::string& cause, const std::vector<std::string>& kids,
                   nlohmann::json details) override;
  bool RecordEventOnce(const std::string& kind, const std::string& cause, const std::string& kid,
                       nlohmann::json details) override;

  // Runs `use` on the unsealed key after every check and the user's authentication.
  using KeyUse = std::function<Result<Bytes>(token::Key&)>;
  Result<OperationResult> PrivateOperation(const keychain::KeyItem& item, const std::string& operation,
                                           const AuthOptions& auth, const KeyUse& use);
  // The first item matching (permanent keys first, then this session's).
  Result<keychain::KeyItem> FindOne(const KeyQuery& query);
  // This session's store of non-permanent keys, made on first use: building an in-memory
  // keychain's schema costs more than most requests, and most sessions never need one.
  Result<keychain::Keychain*> EphemeralStore();
  // The stores to search, permanent keys first; the session's only once it has one.
  std::vector<keychain::Keychain*> Stores();

 private:
  Result<auth::Evaluation> Authenticate(const keychain::KeyItem& item, const AuthOptions& options);

  EnclaveImpl& enclave_;
  Peer peer_;
  std::unique_ptr<keychain::Keychain> ephemeral_;  // non-permanent keys; null until needed
  KeyCache ephemeral_keys_{64};                    // loaded non-permanent keys, gone with the session
  auth::AuthContextStore contexts_;
};

Result<nlohmann::json> RunAdmin(EnclaveImpl& enclave, SessionImpl& session, const std::string& command,
                                const nlohmann::json& args, const std::vector<SecureBytes>& secrets);

}  // namespace enclave::service
