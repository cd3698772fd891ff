// The tpm2 token's cost: sign through the daemon with a key held by the TPM, against raw ESAPI
// Esys_Sign on the same TPM as the reference. Needs ENCLAVE_TEST_TPM2_TCTI (make bench starts a
// swtpm). The daemon is stopped before the raw run: swtpm serves one connection at a time.
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include <cstring>
#include <filesystem>

#include "client/client.h"

namespace {
namespace fs = std::filesystem;
using namespace enclave;

const char* Tcti() { return std::getenv("ENCLAVE_TEST_TPM2_TCTI"); }

void BM_Tpm2DaemonSign(benchmark::State& state) {
  if (Tcti() == nullptr) return state.SkipWithError("no TPM: run through `make bench` (it starts a swtpm)");
  std::string tmpl = (fs::temp_directory_path() / "enclave-bench-tpm2.XXXXXX").string();
  const fs::path home(::mkdtemp(tmpl.data()));
  client::ConnectOptions options;
  options.home = home;
  options.daemon_path = fs::path(ENCLAVE_BIN_DIR) / "enclaved";
  {
    auto c = client::Client::Connect(options);
    if (!c.ok()) return state.SkipWithError(c.error().ToString().c_str());
    (void)(*c)->Admin("config.set", {{"key", "tpm2-tcti"}, {"value", Tcti()}}, {});
    KeySpec spec;
    spec.token = "tpm2";
    spec.application_label = ToBytes("bench");
    spec.access_control = {"private-key-usage"};
    if (auto k = (*c)->CreateKey(spec); !k.ok()) return state.SkipWithError(k.error().ToString().c_str());
    KeyQuery q;
    q.application_label = ToBytes("bench");
    const Bytes message = ToBytes("challenge from the relying party");
    for (auto _ : state) {
      auto r = (*c)->Sign(q, "ecdsa-signature-message-x962-sha256", message, {});
      if (!r.ok()) return state.SkipWithError(r.error().ToString().c_str());
    }
  }
  (void)client::StopDaemon(home);
  fs::remove_all(home);
}
BENCHMARK(BM_Tpm2DaemonSign)->UseRealTime();

// Raw ESAPI: a P-256 ECDSA primary key in the owner hierarchy, Esys_Sign over a SHA-256 digest.
void BM_Tpm2RawEsysSign(benchmark::State& state) {
  if (Tcti() == nullptr) return state.SkipWithError("no TPM: run through `make bench` (it starts a swtpm)");
  TSS2_TCTI_CONTEXT* tcti = nullptr;
  if (Tss2_TctiLdr_Initialize(Tcti(), &tcti) != TSS2_RC_SUCCESS) return state.SkipWithError("tcti");
  ESYS_CONTEXT* esys = nullptr;
  if (Esys_Initialize(&esys, tcti, nullptr) != TSS2_RC_SUCCESS) {
    Tss2_TctiLdr_Finalize(&tcti);
    return state.SkipWithError("esys");
  }
  TPM2B_SENSITIVE_CREATE sensitive{};
  TPM2B_PUBLIC in_public{};
  in_public.publicArea.type = TPM2_ALG_ECC;
  in_public.publicArea.nameAlg = TPM2_ALG_SHA256;
  in_public.publicArea.objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH;
  auto& ecc = in_public.publicArea.parameters.eccDetail;
  ecc.symmetric.algorithm = TPM2_ALG_NULL;
  ecc.scheme.scheme = TPM2_ALG_ECDSA;
  ecc.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  ecc.curveID = TPM2_ECC_NIST_P256;
  ecc.kdf.scheme = TPM2_ALG_NULL;
  TPM2B_DATA outside{};
  TPML_PCR_SELECTION pcrs{};
  ESYS_TR key = ESYS_TR_NONE;
  if (Esys_CreatePrimary(esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive, &in_public,
                         &outside, &pcrs, &key, nullptr, nullptr, nullptr, nullptr) != TSS2_RC_SUCCESS) {
    state.SkipWithError("CreatePrimary");
  } else {
    TPM2B_DIGEST digest{};
    digest.size = 32;
    std::memset(digest.buffer, 0x5a, 32);
    TPMT_SIG_SCHEME scheme{};
    scheme.scheme = TPM2_ALG_ECDSA;
    scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    TPMT_TK_HASHCHECK validation{};
    validation.tag = TPM2_ST_HASHCHECK;
    validation.hierarchy = TPM2_RH_NULL;
    for (auto _ : state) {
      TPMT_SIGNATURE* signature = nullptr;
      if (Esys_Sign(esys, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &digest, &scheme, &validation,
                    &signature) != TSS2_RC_SUCCESS) {
        state.SkipWithError("Esys_Sign");
        break;
      }
      Esys_Free(signature);
    }
    Esys_FlushContext(esys, key);
  }
  Esys_Finalize(&esys);
  Tss2_TctiLdr_Finalize(&tcti);
}
BENCHMARK(BM_Tpm2RawEsysSign)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
