// Internal to the tpm2 token: the Token and Key classes behind OpenTpm2Token.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>

#include "token/token.h"
#include "token/tpm2/tpm2_attestation.h"
#include "token/tpm2/tpm2_device.h"
#include "token/tpm2/tpm2_objects.h"

namespace enclave::token::tpm2 {

class Tpm2Key : public Key {
 public:
  Tpm2Key(std::shared_ptr<Tpm2Device> device, const ObjectBlob& blob);
  Bytes PublicKeyX963() const override { return public_key_x963_; }
  Result<Bytes> SignDigestSlowly(ByteView digest) override;
  Result<SecureBytes> ComputeSharedSecretSlowly(ByteView peer_x963) override;

 private:
  std::shared_ptr<Tpm2Device> device_;
  ObjectBlob blob_;
  Bytes public_key_x963_;
};

class Tpm2Token : public Token {
 public:
  explicit Tpm2Token(std::shared_ptr<Tpm2Device> device) : device_(std::move(device)) {}
  std::string_view id() const override { return "tpm2"; }
  std::string_view description_tag() const override { return "tpmk"; }
  Result<GeneratedKey> GenerateKeySlowly() override;
  Result<std::unique_ptr<Key>> LoadKey(ByteView token_blob) override;
  nlohmann::json Describe() override;

  Result<Tpm2Attestation> CertifyKeySlowly(ByteView token_blob, ByteView qualifying_data);
  const std::shared_ptr<Tpm2Device>& device() const { return device_; }

 private:
  std::shared_ptr<Tpm2Device> device_;
};

// A token blob that parses and has the token key template (anything else is -3).
Result<ObjectBlob> ParseKeyBlob(ByteView token_blob);

// {"id":"tpm2","tcti",…,"manufacturer",…} from TPM2_GetCapability; an unreachable TPM gives
// {"id","tcti","available":false,"error":{…}}.
nlohmann::json DescribeTpm(Tpm2Device& device);

}  // namespace enclave::token::tpm2
