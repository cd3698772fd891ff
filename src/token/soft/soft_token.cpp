#include "token/soft/soft_token.h"

#include "crypto/ec.h"

namespace enclave::token {
namespace {

class SoftKey final : public Key {
 public:
  // The point comes from the key itself: re-importing it would re-run the n·Q public-key check.
  explicit SoftKey(crypto::EcPrivateKey key) : key_(std::move(key)) {}

  Bytes PublicKeyX963() const override { return key_.PublicKeyX963(); }

  Result<Bytes> SignDigestSlowly(ByteView digest) override { return key_.SignDigestDer(digest); }

  Result<SecureBytes> ComputeSharedSecretSlowly(ByteView peer_x963) override {
    ASSIGN_OR_RETURN(crypto::EcPublicKey peer, crypto::EcPublicKey::FromX963(peer_x963));
    return key_.SharedSecret(peer);
  }

 private:
  crypto::EcPrivateKey key_;
};

Error CorruptBlob(const std::string& why) {
  // The blob's content is a secret: say what is wrong with it, never what it holds.
  return TokenError(tkerror::kCorruptedData, "soft token key blob is corrupt: " + why)
      .WithCause("key-blob-corrupt");
}

}  // namespace

Result<GeneratedKey> SoftToken::GenerateKeySlowly() {
  ASSIGN_OR_RETURN(crypto::EcPrivateKey key, crypto::EcPrivateKey::Generate());
  SecureBytes scalar = key.Scalar();
  if (scalar.size() != kBlobSize - 1) {
    return TokenError(tkerror::kCorruptedData, "soft token cannot export the generated key for wrapping");
  }
  GeneratedKey out;
  out.token_blob = SecureBytes(kBlobSize);
  out.token_blob.data()[0] = kBlobVersion;
  std::copy(scalar.data(), scalar.data() + scalar.size(), out.token_blob.data() + 1);
  out.key = std::make_unique<SoftKey>(std::move(key));
  return out;
}

Result<std::unique_ptr<Key>> SoftToken::LoadKey(ByteView token_blob) {
  if (token_blob.size() != kBlobSize) {
    return CorruptBlob("expected " + std::to_string(kBlobSize) + " bytes, got " +
                       std::to_string(token_blob.size()));
  }
  if (token_blob[0] != kBlobVersion)
    return CorruptBlob("unknown format version " + std::to_string(token_blob[0]));
  auto key = crypto::EcPrivateKey::FromScalar(token_blob.subspan(1));
  if (!key.ok()) return CorruptBlob("the private scalar is not a valid P-256 key");
  return std::unique_ptr<Key>(std::make_unique<SoftKey>(std::move(key).value()));
}

nlohmann::json SoftToken::Describe() {
  return {{"id", "soft"}, {"kind", "software enclave in enclaved's memory"}};
}

}  // namespace enclave::token
