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

}  // namespace

Result<std::unique_ptr<Tpm2Sealer>> Tpm2Sealer::Open(const TokenConfig& config) {
  ASSIGN_OR_RETURN(auto device, Tpm2Device::Open(config.tpm2_tcti));
  return std::make_unique<Tpm2Sealer>(std::move(device));
}

Tpm2Sealer::Tpm2Sealer(std::shared_ptr<Tpm2Device> device) : device_(std::move(device)) {}
Tpm2Sealer::~Tpm2Sealer() = default;

Result<Bytes> Tpm2Sealer::Seal(ByteView secret) {
  if (secret.empty() || secret.size() > kMaxSecretSize) {
    return OSStatusError(errsec::kParam, "a TPM-sealed secret has 1 to 128 bytes");
  }
  TPM2B_SENSITIVE_CREATE sensitive{};
  sensitive.sensitive.data.size = static_cast<UINT16>(secret.size());
  std::memcpy(sensitive.sensitive.data.buffer, secret.data(), secret.size());
  TPM2B_PUBLIC in_public{};
  in_public.publicArea = SealedDataTemplate();
  TPM2B_DATA outside_info{};
  TPML_PCR_SELECTION pcrs{};
  EsysPtr<TPM2B_PRIVATE> out_private;
  EsysPtr<TPM2B_PUBLIC> out_public;
  const Status created =
      device_->WithStorageKey("TPM2_Create of sealed data", [&](ESYS_CONTEXT* esys, ESYS_TR srk) {
        TPM2B_PRIVATE* priv = nullptr;
        TPM2B_PUBLIC* pub = nullptr;
        TPM2B_CREATION_DATA* creation_data = nullptr;
        TPM2B_DIGEST* creation_hash = nullptr;
        TPMT_TK_CREATION* ticket = nullptr;
        const TSS2_RC rc =
            Esys_Create(esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive, &in_public,
                        &outside_info, &pcrs, &priv, &pub, &creation_data, &creation_hash, &ticket);
        out_private.reset(priv);
        out_public.reset(pub);
        Esys_Free(creation_data);
        Esys_Free(creation_hash);
        Esys_Free(ticket);
        return rc;
      });
  OPENSSL_cleanse(&sensitive, sizeof(sensitive));
  RETURN_IF_ERROR(created);
  return SerializeObjectBlob(ObjectBlob{*out_public, *out_private});
}

Result<SecureBytes> Tpm2Sealer::Unseal(ByteView sealed) {
  ASSIGN_OR_RETURN(ObjectBlob blob, ParseObjectBlob(sealed));
  if (!SameAttributesAndParameters(blob.public_area.publicArea, SealedDataTemplate())) {
    return TokenError(tkerror::kCorruptedData, "blob is not a TPM-sealed secret")
        .WithCause("key-blob-corrupt");
  }
  std::unique_ptr<TPM2B_SENSITIVE_DATA, WipeSensitiveData> data;
  RETURN_IF_ERROR(device_->WithObject(blob, "TPM2_Unseal", [&](ESYS_CONTEXT* esys, ESYS_TR obj) {
    TPM2B_SENSITIVE_DATA* out = nullptr;
    const TSS2_RC rc = Esys_Unseal(esys, obj, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &out);
    data.reset(out);
    return rc;
  }));
  return SecureBytes(ByteView(data->buffer, data->size));
}

}  // namespace enclave::token::tpm2
