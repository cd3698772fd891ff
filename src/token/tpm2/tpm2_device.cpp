#include "token/tpm2/tpm2_device.h"

#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include <algorithm>

#include "crypto/ec.h"
#include "token/tpm2/tpm2_errors.h"

namespace enclave::token::tpm2 {
namespace {

Error Unreachable(const std::string& tcti, TSS2_RC rc, std::string_view step) {
  Error e = TokenError(tkerror::kTokenNotFound, "TPM at \"" + tcti + "\" cannot be reached (" +
                                                    std::string(step) + ": " + Tss2_RC_Decode(rc) + ")")
                .WithCause("token-unavailable");
  e.user_info["TPMError"] = static_cast<int64_t>(rc);
  e.user_info["TPMErrorText"] = Tss2_RC_Decode(rc);
  e.user_info["tcti"] = tcti;
  return e;
}

// Simulators are not started by firmware; a real TPM (or tpmrm) always is.
bool NeedsStartup(const std::string& tcti) {
  return tcti.rfind("swtpm", 0) == 0 || tcti.rfind("mssim", 0) == 0;
}

size_t TransientSlots(ESYS_CONTEXT* esys) {
  TPMI_YES_NO more = TPM2_NO;
  TPMS_CAPABILITY_DATA* raw = nullptr;
  const TSS2_RC rc = Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                        TPM2_CAP_TPM_PROPERTIES, TPM2_PT_HR_TRANSIENT_MIN, 1, &more, &raw);
  EsysPtr<TPMS_CAPABILITY_DATA> data(raw);
  // The specification's minimum is 3 slots.
  if (rc != TSS2_RC_SUCCESS || data->data.tpmProperties.count == 0 ||
      data->data.tpmProperties.tpmProperty[0].property != TPM2_PT_HR_TRANSIENT_MIN) {
    return 3;
  }
  return std::max<uint32_t>(3, data->data.tpmProperties.tpmProperty[0].value);
}

std::string CacheKey(const ObjectBlob& blob) {
  return HexEncode(crypto::Digest(crypto::Hash::kSha256, SerializeObjectBlob(blob)));
}

// Empty sensitive data, outside info and PCR selection for CreatePrimary.
struct PrimaryInputs {
  TPM2B_SENSITIVE_CREATE sensitive{};
  TPM2B_DATA outside_info{};
  TPML_PCR_SELECTION pcrs{};
};

TSS2_RC CreatePrimary(ESYS_CONTEXT* esys, ESYS_TR hierarchy, const TPM2B_PUBLIC& in_public, ESYS_TR* handle,
                      EsysPtr<TPM2B_PUBLIC>* out_public) {
  PrimaryInputs in;
  TPM2B_PUBLIC* pub = nullptr;
  TPM2B_CREATION_DATA* creation_data = nullptr;
  TPM2B_DIGEST* creation_hash = nullptr;
  TPMT_TK_CREATION* ticket = nullptr;
  const TSS2_RC rc = Esys_CreatePrimary(esys, hierarchy, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                        &in.sensitive, &in_public, &in.outside_info, &in.pcrs, handle, &pub,
                                        &creation_data, &creation_hash, &ticket);
  EsysPtr<TPM2B_PUBLIC> pub_owner(pub);
  EsysPtr<TPM2B_CREATION_DATA> data_owner(creation_data);
  EsysPtr<TPM2B_DIGEST> hash_owner(creation_hash);
  EsysPtr<TPMT_TK_CREATION> ticket_owner(ticket);
  if (out_public) *out_public = std::move(pub_owner);
  return rc;
}

}  // namespace

void TpmConnection::TctiFinalize::operator()(TSS2_TCTI_CONTEXT* c) const { Tss2_TctiLdr_Finalize(&c); }
void TpmConnection::EsysFinalize::operator()(ESYS_CONTEXT* c) const { Esys_Finalize(&c); }

Result<std::unique_ptr<TpmConnection>> TpmConnection::Open(const std::string& tcti) {
  auto conn = std::unique_ptr<TpmConnection>(new TpmConnection());
  TSS2_TCTI_CONTEXT* tcti_ctx = nullptr;
  TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti.c_str(), &tcti_ctx);
  if (rc != TSS2_RC_SUCCESS) return Unreachable(tcti, rc, "TCTI");
  conn->tcti_.reset(tcti_ctx);
  ESYS_CONTEXT* esys = nullptr;
  rc = Esys_Initialize(&esys, tcti_ctx, nullptr);
  if (rc != TSS2_RC_SUCCESS) return Unreachable(tcti, rc, "ESAPI");
  conn->esys_.reset(esys);
  if (NeedsStartup(tcti)) {
    rc = Esys_Startup(esys, TPM2_SU_CLEAR);
    if (rc != TSS2_RC_SUCCESS && TpmBaseCode(rc) != TPM2_RC_INITIALIZE) {
      return Unreachable(tcti, rc, "TPM2_Startup");
    }
  }
  return conn;
}

TransientObject::~TransientObject() {
  // The TPM may already be gone; nothing useful can be done about a failed flush.
  if (esys_ != nullptr) Esys_FlushContext(esys_, handle_);
}

Result<std::shared_ptr<Tpm2Device>> Tpm2Device::Open(std::string tcti) {
  if (tcti.empty()) tcti = kDefaultTcti;
  auto device = std::shared_ptr<Tpm2Device>(new Tpm2Device(std::move(tcti)));
  std::lock_guard lock(device->mu_);
  RETURN_IF_ERROR(device->Connect());
  return device;
}

Tpm2Device::~Tpm2Device() {
  cache_.clear();
  srk_.reset();
}

Status Tpm2Device::Connect() {
  ASSIGN_OR_RETURN(connection_, TpmConnection::Open(tcti_));
  // One slot is the SRK's, one stays free for an object used next to a cached key (the
  // attestation key, a freshly created key).
  const size_t slots = TransientSlots(connection_->esys());
  capacity_ = slots - 2;
  return Ok();
}

void Tpm2Device::Disconnect() {
  for (auto& entry : cache_) entry.second.Abandon();
  cache_.clear();
  if (srk_) srk_->Abandon();
  srk_.reset();
  connection_.reset();
}

void Tpm2Device::FlushCache() { cache_.clear(); }

size_t Tpm2Device::cached_objects_for_testing() {
  std::lock_guard lock(mu_);
  return cache_.size();
}

Status Tpm2Device::Run(std::string_view what, const std::function<Outcome()>& attempt) {
  for (int round = 0;; ++round) {
    if (!connection_) RETURN_IF_ERROR(Connect());
    const Outcome out = attempt();
    if (out.rc == TSS2_RC_SUCCESS) return Ok();
    if (round == 0) {
      if (IsCommunicationError(out.rc)) {
        Disconnect();
        continue;
      }
      if (IsObjectMemoryError(out.rc) || IsStaleHandleError(out.rc) ||
          (out.during_load && IsForeignBlobError(out.rc))) {
        // A stale SRK (the TPM was cleared under a resource manager) also shows up as a
        // load failure; re-creating it tells a cleared TPM from a transient hiccup.
        FlushCache();
        srk_.reset();
        continue;
      }
    }
    if (IsCommunicationError(out.rc)) Disconnect();
    return out.during_load ? MapTpmLoadError(out.rc, what) : MapTpmError(out.rc, what);
  }
}

TSS2_RC Tpm2Device::EnsureStorageKey() {
  if (srk_) return TSS2_RC_SUCCESS;
  ESYS_TR handle = ESYS_TR_NONE;
  const TSS2_RC rc = CreatePrimary(connection_->esys(), ESYS_TR_RH_OWNER, SrkTemplate(), &handle, nullptr);
  if (rc == TSS2_RC_SUCCESS) srk_.emplace(connection_->esys(), handle);
  return rc;
}

Tpm2Device::Outcome Tpm2Device::LoadObject(const ObjectBlob& blob, size_t spare, ESYS_TR* handle) {
  const std::string key = CacheKey(blob);
  auto hit =
      std::find_if(cache_.begin(), cache_.end(), [&](const auto& entry) { return entry.first == key; });
  if (hit != cache_.end()) {
    cache_.splice(cache_.begin(), cache_, hit);
    *handle = cache_.front().second.handle();
    return {};
  }
  const size_t keep = capacity_ > spare ? capacity_ - spare - 1 : 0;
  while (cache_.size() > keep) cache_.pop_back();
  if (TSS2_RC rc = EnsureStorageKey(); rc != TSS2_RC_SUCCESS) return {rc, false};
  ESYS_TR loaded = ESYS_TR_NONE;
  const TSS2_RC rc = Esys_Load(connection_->esys(), srk_->handle(), ESYS_TR_PASSWORD, ESYS_TR_NONE,
                               ESYS_TR_NONE, &blob.private_area, &blob.public_area, &loaded);
  if (rc != TSS2_RC_SUCCESS) return {rc, true};
  cache_.emplace_front(key, TransientObject(connection_->esys(), loaded));
  *handle = loaded;
  return {};
}

Status Tpm2Device::WithContext(std::string_view what, const ContextOp& op) {
  std::lock_guard lock(mu_);
  return Run(what, [&]() -> Outcome { return {op(connection_->esys()), false}; });
}

Status Tpm2Device::WithStorageKey(std::string_view what, const ObjectOp& op) {
  std::lock_guard lock(mu_);
  return Run(what, [&]() -> Outcome {
    if (TSS2_RC rc = EnsureStorageKey(); rc != TSS2_RC_SUCCESS) return {rc, false};
    return {op(connection_->esys(), srk_->handle()), false};
  });
}

Status Tpm2Device::WithObject(const ObjectBlob& blob, std::string_view what, const ObjectOp& op) {
  std::lock_guard lock(mu_);
  return Run(what, [&]() -> Outcome {
    ESYS_TR handle = ESYS_TR_NONE;
    if (Outcome load = LoadObject(blob, 0, &handle); load.rc != TSS2_RC_SUCCESS) return load;
    return {op(connection_->esys(), handle), false};
  });
}

TSS2_RC Tpm2Device::StartSaltedSession(TPMA_SESSION encrypt, std::optional<TransientObject>* session) {
  if (TSS2_RC rc = EnsureStorageKey(); rc != TSS2_RC_SUCCESS) return rc;
  TPMT_SYM_DEF symmetric{};
  symmetric.algorithm = TPM2_ALG_AES;
  symmetric.keyBits.aes = 128;
  symmetric.mode.aes = TPM2_ALG_CFB;
  ESYS_TR handle = ESYS_TR_NONE;
  // tpmKey = the SRK: ESAPI encrypts a fresh salt to it (ECDH), so the session key stays
  // unknown to anyone watching the bus, even one who knows the objects' authValues.
  TSS2_RC rc = Esys_StartAuthSession(connection_->esys(), srk_->handle(), ESYS_TR_NONE, ESYS_TR_NONE,
                                     ESYS_TR_NONE, ESYS_TR_NONE, nullptr, TPM2_SE_HMAC, &symmetric,
                                     TPM2_ALG_SHA256, &handle);
  if (rc != TSS2_RC_SUCCESS) return rc;
  session->emplace(connection_->esys(), handle);
  // continueSession: the session outlives a failed command too, and is flushed by its owner.
  const TPMA_SESSION attributes = TPMA_SESSION_CONTINUESESSION | encrypt;
  return Esys_TRSess_SetAttributes(connection_->esys(), handle, attributes, 0xff);
}

Status Tpm2Device::WithObjectInSession(const ObjectBlob& blob, std::string_view what, TPMA_SESSION encrypt,
                                       const SessionOp& op) {
  std::lock_guard lock(mu_);
  return Run(what, [&]() -> Outcome {
    ESYS_TR handle = ESYS_TR_NONE;
    if (Outcome load = LoadObject(blob, 0, &handle); load.rc != TSS2_RC_SUCCESS) return load;
    std::optional<TransientObject> session;
    if (TSS2_RC rc = StartSaltedSession(encrypt, &session); rc != TSS2_RC_SUCCESS) return {rc, false};
    return {op(connection_->esys(), handle, session->handle()), false};
  });
}

Status Tpm2Device::WithObjectAndAttestationKey(const ObjectBlob& blob, std::string_view what,
                                               const AttestOp& op) {
  std::lock_guard lock(mu_);
  return Run(what, [&]() -> Outcome {
    ESYS_TR handle = ESYS_TR_NONE;
    if (Outcome load = LoadObject(blob, 1, &handle); load.rc != TSS2_RC_SUCCESS) return load;
    TPM2B_PUBLIC ak_template{};
    ak_template.publicArea = AttestationKeyTemplate();
    ESYS_TR ak_handle = ESYS_TR_NONE;
    EsysPtr<TPM2B_PUBLIC> ak_public;
    const TSS2_RC rc =
        CreatePrimary(connection_->esys(), ESYS_TR_RH_ENDORSEMENT, ak_template, &ak_handle, &ak_public);
    if (rc != TSS2_RC_SUCCESS) return {rc, false};
    TransientObject ak(connection_->esys(), ak_handle);
    return {op(connection_->esys(), handle, ak.handle(), *ak_public), false};
  });
}

Result<ObjectBlob> Tpm2Device::CreateUnderStorageKey(std::string_view what, const TPM2B_SENSITIVE_CREATE& sensitive,
                                                     const TPM2B_PUBLIC& in_public) {
  const TPM2B_DATA outside_info{};
  const TPML_PCR_SELECTION pcrs{};
  EsysPtr<TPM2B_PRIVATE> out_private;
  EsysPtr<TPM2B_PUBLIC> out_public;
  std::lock_guard lock(mu_);
  RETURN_IF_ERROR(Run(what, [&]() -> Outcome {
    // The sensitive area (a secret to seal, an authValue) goes to the TPM encrypted.
    std::optional<TransientObject> session;
    if (TSS2_RC rc = StartSaltedSession(TPMA_SESSION_DECRYPT | TPMA_SESSION_ENCRYPT, &session);
        rc != TSS2_RC_SUCCESS) {
      return {rc, false};
    }
    ESYS_CONTEXT* esys = connection_->esys();
    const ESYS_TR srk = srk_->handle();
    TPM2B_PRIVATE* priv = nullptr;
    TPM2B_PUBLIC* pub = nullptr;
    TPM2B_CREATION_DATA* creation_data = nullptr;
    TPM2B_DIGEST* creation_hash = nullptr;
    TPMT_TK_CREATION* ticket = nullptr;
    const TSS2_RC rc = Esys_Create(esys, srk, session->handle(), ESYS_TR_NONE, ESYS_TR_NONE, &sensitive, &in_public,
                                   &outside_info, &pcrs, &priv, &pub, &creation_data, &creation_hash, &ticket);
    out_private.reset(priv);
    out_public.reset(pub);
    Esys_Free(creation_data);
    Esys_Free(creation_hash);
    Esys_Free(ticket);
    return Outcome{rc, false};
  }));
  return ObjectBlob{*out_public, *out_private};
}

}  // namespace enclave::token::tpm2
