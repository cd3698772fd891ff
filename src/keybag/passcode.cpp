#include "keybag/passcode.h"

#include <algorithm>
#include <memory>
#include <string>

#include "crypto/ec.h"
#include "keybag/primitives.h"

namespace enclave::keybag::internal {

namespace {
constexpr char kPasscodeKeyInfo[] = "enclave passcode key";
constexpr char kVerifierInfo[] = "enclave passcode verifier";
constexpr char kHardwareAuthInfo[] = "enclave tpm passcode auth";

// The authorization value the hardware checks: an independent HKDF output, so it reveals
// nothing about the passcode key.
SecureBytes HardwareAuth(const SecureBytes& stretched) {
  return HkdfSha256(stretched, kHardwareAuthInfo, kSecretBytes);
}
}  // namespace

SecureBytes PasscodeKey(ByteView device_secret, const SecureBytes& stretched, const SecureBytes& entropy) {
  SecureBytes ikm(device_secret.size() + stretched.size() + entropy.size());
  uint8_t* out = std::copy(device_secret.begin(), device_secret.end(), ikm.data());
  out = std::copy(stretched.data(), stretched.data() + stretched.size(), out);
  std::copy(entropy.data(), entropy.data() + entropy.size(), out);
  return HkdfSha256(ikm, kPasscodeKeyInfo);
}

Bytes PasscodeVerifier(const SecureBytes& passcode_key) {
  SecureBytes v = HkdfSha256(passcode_key, kVerifierInfo);
  return Bytes(v.data(), v.data() + v.size());
}

bool VerifierMatches(const KeybagRecord& record, const SecureBytes& passcode_key) {
  return record.passcode && ConstantTimeEquals(PasscodeVerifier(passcode_key), record.passcode->verifier);
}

Result<Bytes> SealPasscodeEntropy(DeviceSecretSealer* sealer, const SecureBytes& stretched,
                                  SecureBytes* entropy) {
  entropy->clear();
  if (sealer == nullptr) return Bytes{};
  SecureBytes fresh = crypto::RandomSecret(kSecretBytes);
  auto sealed = sealer->SealWithAuth(fresh, HardwareAuth(stretched));
  if (!sealed.ok()) {
    const Error& e = sealed.error();
    if (e.domain == domain::kOSStatus && e.code == errsec::kUnimplemented) return Bytes{};
    return e.Wrap(domain::kAKS, aks::kError, "cannot bind the passcode to " + std::string(sealer->name()));
  }
  *entropy = std::move(fresh);
  return std::move(sealed).value();
}

Result<SecureBytes> UnsealPasscodeEntropy(DeviceSecretSealer* sealer, const SecureBytes& stretched,
                                          ByteView sealed) {
  if (sealer == nullptr) {
    return KeystoreError(aks::kError, "the passcode is bound to a sealing token that is not configured")
        .WithCause("token-unavailable");
  }
  ASSIGN_OR_RETURN(SecureBytes entropy, sealer->UnsealWithAuth(sealed, HardwareAuth(stretched)));
  if (entropy.size() != kSecretBytes) {
    return KeystoreError(aks::kBadDeviceKey, "the sealed passcode entropy has the wrong size")
        .WithCause("class-key-lost");
  }
  return entropy;
}

}  // namespace enclave::keybag::internal
