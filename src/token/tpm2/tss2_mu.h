// libtss2-mu, the TSS marshalling library, opened on first use. The CLI links this layer to
// verify attestation statements on a machine without a TPM, and would otherwise load and
// relocate the library at the start of every command (~0.2 ms of a ~9 ms `enclave sign`);
// a process that talks to a TPM has it loaded already (ESAPI is built on it).
#pragma once

#include <tss2/tss2_mu.h>

#include "common/result.h"

namespace enclave::token::tpm2 {

struct Tss2Mu {
  decltype(&::Tss2_MU_TPMT_PUBLIC_Marshal) tpmt_public_marshal = nullptr;
  decltype(&::Tss2_MU_TPMT_PUBLIC_Unmarshal) tpmt_public_unmarshal = nullptr;
  decltype(&::Tss2_MU_TPM2B_PUBLIC_Marshal) tpm2b_public_marshal = nullptr;
  decltype(&::Tss2_MU_TPM2B_PUBLIC_Unmarshal) tpm2b_public_unmarshal = nullptr;
  decltype(&::Tss2_MU_TPM2B_PRIVATE_Marshal) tpm2b_private_marshal = nullptr;
  decltype(&::Tss2_MU_TPM2B_PRIVATE_Unmarshal) tpm2b_private_unmarshal = nullptr;
  decltype(&::Tss2_MU_TPMS_ATTEST_Unmarshal) tpms_attest_unmarshal = nullptr;
};

// The functions, resolved once; null when the library cannot be opened (libtss2-mu0 is not
// installed), which callers report as an error of their own.
const Tss2Mu* Mu();
// What a caller reports when Mu() is null.
Error MuMissing();

}  // namespace enclave::token::tpm2
