#include "token/tpm2/tss2_mu.h"

#include "common/dynamic_library.h"

namespace enclave::token::tpm2 {

const Tss2Mu* Mu() {
  static const Tss2Mu* const loaded = []() -> const Tss2Mu* {
    // The soname the build linked against (Debian: libtss2-mu0); never closed.
    void* mu = ::dlopen("libtss2-mu.so.0", RTLD_NOW | RTLD_LOCAL);
    if (mu == nullptr) return nullptr;
    static Tss2Mu lib;
    const bool all = ResolveSymbol(mu, "Tss2_MU_TPMT_PUBLIC_Marshal", &lib.tpmt_public_marshal) &&
                     ResolveSymbol(mu, "Tss2_MU_TPMT_PUBLIC_Unmarshal", &lib.tpmt_public_unmarshal) &&
                     ResolveSymbol(mu, "Tss2_MU_TPM2B_PUBLIC_Marshal", &lib.tpm2b_public_marshal) &&
                     ResolveSymbol(mu, "Tss2_MU_TPM2B_PUBLIC_Unmarshal", &lib.tpm2b_public_unmarshal) &&
                     ResolveSymbol(mu, "Tss2_MU_TPM2B_PRIVATE_Marshal", &lib.tpm2b_private_marshal) &&
                     ResolveSymbol(mu, "Tss2_MU_TPM2B_PRIVATE_Unmarshal", &lib.tpm2b_private_unmarshal) &&
                     ResolveSymbol(mu, "Tss2_MU_TPMS_ATTEST_Unmarshal", &lib.tpms_attest_unmarshal);
    return all ? &lib : nullptr;
  }();
  return loaded;
}

Error MuMissing() {
  return OSStatusError(
      errsec::kNotAvailable,
      "libtss2-mu (the TSS marshalling library, Debian package libtss2-mu0) cannot be opened");
}

}  // namespace enclave::token::tpm2
