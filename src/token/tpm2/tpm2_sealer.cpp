#include "token/tpm2/tpm2_sealer.h"

#include <openssl/crypto.h>

#include <cstring>

#include "token/tpm2/tpm2_device.h"

namespace enclave::token::tpm2 {
namespace {

// Wipes the unsealed secret before ESAPI frees it.
struct WipeSensitiveData {
  void operator()(TPM2B_SENSITIVE_DATA* p) const {
    OPENSSL_cleanse(p, sizeof(*p));
    Esys_Free(p);
  }
};

// A secret sealed with an empty authValue gains nothing from dictionary-attack protection
// (anyone may present the empty value), and with it a lockout caused by wrong passcodes would
// also lock away the device secret.
TPMT_PUBLIC NoAuthTemplate() {
  TPMT_PUBLIC p = SealedDataTemplate();
  p.objectAttributes |= TPMA_OBJECT_NODA;
  return p;
}

// The passcode-bound object: userWithAuth, no policy and no noDA, so wrong values count.
TPMT_PUBLIC WithAuthTemplate() { return SealedDataTemplate(); }

}  // namespace

Result<std::unique_ptr<Tpm2Sealer>> Tpm2Sealer::Open(const TokenConfig& config) {
  ASSIGN_OR_RETURN(auto device, Tpm2Device::Open(config.tpm2_tcti));
  return std::make_unique<Tpm2Sealer>(std::move(device));
}

Tpm2Sealer::Tpm2Sealer(std::shared_ptr<Tpm2Device> device) : device_(std::move(device)) {}
Tpm2Sealer::~Tpm2Sealer() = default;

Result<Bytes> Tpm2Sealer::Seal(ByteView secret) { return CreateSealedObject(secret, {}); }

Result<SecureBytes> Tpm2Sealer::Unseal(ByteView sealed) { return UnsealObject(sealed, {}); }

Result<Bytes> Tpm2Sealer::SealWithAuth(ByteView secret, ByteView auth) {
  if (auth.empty()) return OSStatusError(errsec::kParam, "a TPM authorization value must not be empty");
  return CreateSealedObject(secret, auth);
}

Result<SecureBytes> Tpm2Sealer::UnsealWithAuth(ByteView sealed, ByteView auth) {
  if (auth.empty()) return OSStatusError(errsec::kParam, "a TPM authorization value must not be empty");
  auto unsealed = UnsealObject(sealed, auth);
  if (unsealed.ok() || unsealed.error().effective_cause() != "tpm-lockout") return unsealed;
  Error e = std::move(unsealed).error();
  if (auto interval = LockoutInterval()) e.user_info["retry_after_seconds"] = *interval;
  return e;
}

Result<Bytes> Tpm2Sealer::CreateSealedObject(ByteView secret, ByteView auth) {
  if (secret.empty() || secret.size() > kMaxSecretSize) {
    return OSStatusError(errsec::kParam, "a TPM-sealed secret has 1 to 128 bytes");
  }
  if (auth.size() > kMaxAuthSize)
    return OSStatusError(errsec::kParam, "a TPM authorization value has at most 32 bytes");
  TPM2B_SENSITIVE_CREATE sensitive{};
  sensitive.sensitive.data.size = static_cast<UINT16>(secret.size());
  std::memcpy(sensitive.sensitive.data.buffer, secret.data(), secret.size());
  sensitive.sensitive.userAuth.size = static_cast<UINT16>(auth.size());
  if (!auth.empty()) std::memcpy(sensitive.sensitive.userAuth.buffer, auth.data(), auth.size());
  TPM2B_PUBLIC in_public{};
  in_public.publicArea = auth.empty() ? NoAuthTemplate() : WithAuthTemplate();
  auto created = device_->CreateUnderStorageKey("TPM2_Create of sealed data", sensitive, in_public);
  OPENSSL_cleanse(&sensitive, sizeof(sensitive));
  if (!created.ok()) return std::move(created).error();
  return SerializeObjectBlob(*created);
}

Result<SecureBytes> Tpm2Sealer::UnsealObject(ByteView sealed, ByteView auth) {
  if (auth.size() > kMaxAuthSize)
    return OSStatusError(errsec::kParam, "a TPM authorization value has at most 32 bytes");
  ASSIGN_OR_RETURN(ObjectBlob blob, ParseObjectBlob(sealed));
  const TPMT_PUBLIC& area = blob.public_area.publicArea;
  // Blobs sealed without auth before they were made noDA still unseal.
  const bool expected = auth.empty() ? SameAttributesAndParameters(area, NoAuthTemplate()) ||
                                           SameAttributesAndParameters(area, SealedDataTemplate())
                                     : SameAttributesAndParameters(area, WithAuthTemplate());
  if (!expected) {
    return TokenError(tkerror::kCorruptedData, "blob is not a TPM-sealed secret of this kind")
        .WithCause("key-blob-corrupt");
  }
  TPM2B_AUTH tpm_auth{};
  tpm_auth.size = static_cast<UINT16>(auth.size());
  if (!auth.empty()) std::memcpy(tpm_auth.buffer, auth.data(), auth.size());
  std::unique_ptr<TPM2B_SENSITIVE_DATA, WipeSensitiveData> data;
  // The authValue is proven by an HMAC over a salted session (never sent), and the unsealed data
  // comes back encrypted under the session key: a bus sniffer learns neither.
  const Status unsealed = device_->WithObjectInSession(
      blob, "TPM2_Unseal", TPMA_SESSION_ENCRYPT, [&](ESYS_CONTEXT* esys, ESYS_TR obj, ESYS_TR session) {
    TSS2_RC rc = Esys_TR_SetAuth(esys, obj, &tpm_auth);
    if (rc != TSS2_RC_SUCCESS) return rc;
    TPM2B_SENSITIVE_DATA* out = nullptr;
    rc = Esys_Unseal(esys, obj, session, ESYS_TR_NONE, ESYS_TR_NONE, &out);
    data.reset(out);
    // The loaded object stays cached: it must not keep the passcode-derived value.
    const TPM2B_AUTH empty{};
    (void)Esys_TR_SetAuth(esys, obj, &empty);
    return rc;
  });
  OPENSSL_cleanse(&tpm_auth, sizeof(tpm_auth));
  RETURN_IF_ERROR(unsealed);
  return SecureBytes(ByteView(data->buffer, data->size));
}

std::optional<uint32_t> Tpm2Sealer::LockoutInterval() {
  std::optional<uint32_t> interval;
  (void)device_->WithContext("TPM2_GetCapability", [&](ESYS_CONTEXT* esys) {
    TPMI_YES_NO more = TPM2_NO;
    TPMS_CAPABILITY_DATA* raw = nullptr;
    const TSS2_RC rc = Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                          TPM2_CAP_TPM_PROPERTIES, TPM2_PT_LOCKOUT_INTERVAL, 1, &more, &raw);
    EsysPtr<TPMS_CAPABILITY_DATA> caps(raw);
    if (rc == TSS2_RC_SUCCESS && caps->data.tpmProperties.count > 0 &&
        caps->data.tpmProperties.tpmProperty[0].property == TPM2_PT_LOCKOUT_INTERVAL) {
      interval = caps->data.tpmProperties.tpmProperty[0].value;
    }
    return rc;
  });
  return interval;
}

}  // namespace enclave::token::tpm2
