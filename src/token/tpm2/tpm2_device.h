// One connection to a TPM 2.0 through ESAPI, shared by the tpm2 token, its keys, the
// attestor and the sealer. ESAPI contexts are not thread safe, so the device serialises the
// calls. Without a resource manager (swtpm, /dev/tpm0) all clients share the TPM's few
// transient object slots (3 on swtpm), so one process should hold one device: use
// tpm2::OpenSealer(token) rather than a second connection.
//
// The device keeps the storage primary key (SRK) loaded and caches loaded key objects in an
// LRU bounded by the TPM's transient object slots. Each operation is retried once after the
// recoverable failures: out of object memory (flush the cache), a lost connection (reconnect:
// the TPM may have been restarted) and a handle the TPM forgot (reload).
#pragma once

#include <tss2/tss2_esys.h>

#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/result.h"
#include "token/tpm2/tpm2_objects.h"

namespace enclave::token::tpm2 {

inline constexpr char kDefaultTcti[] = "device:/dev/tpmrm0";

// Frees what ESAPI returned (Esys_Free).
struct EsysFree {
  void operator()(void* p) const { Esys_Free(p); }
};
template <typename T>
using EsysPtr = std::unique_ptr<T, EsysFree>;

// The TCTI and ESYS contexts of one connection; the ESYS context is finalized first.
class TpmConnection {
 public:
  // Transport failures: CryptoTokenKit -7, cause token-unavailable.
  static Result<std::unique_ptr<TpmConnection>> Open(const std::string& tcti);
  ESYS_CONTEXT* esys() const { return esys_.get(); }

 private:
  struct TctiFinalize {
    void operator()(TSS2_TCTI_CONTEXT* c) const;
  };
  struct EsysFinalize {
    void operator()(ESYS_CONTEXT* c) const;
  };
  std::unique_ptr<TSS2_TCTI_CONTEXT, TctiFinalize> tcti_;
  std::unique_ptr<ESYS_CONTEXT, EsysFinalize> esys_;
};

// A transient object in the TPM, flushed when destroyed.
class TransientObject {
 public:
  TransientObject(ESYS_CONTEXT* esys, ESYS_TR handle) : esys_(esys), handle_(handle) {}
  TransientObject(TransientObject&& o) noexcept
      : esys_(std::exchange(o.esys_, nullptr)), handle_(o.handle_) {}
  TransientObject& operator=(TransientObject&&) = delete;
  TransientObject(const TransientObject&) = delete;
  ~TransientObject();
  ESYS_TR handle() const { return handle_; }
  // The connection died: the TPM (or its resource manager) already dropped the object.
  void Abandon() { esys_ = nullptr; }

 private:
  ESYS_CONTEXT* esys_;
  ESYS_TR handle_;
};

class Tpm2Device {
 public:
  static Result<std::shared_ptr<Tpm2Device>> Open(std::string tcti);
  ~Tpm2Device();

  const std::string& tcti() const { return tcti_; }
  size_t cache_capacity() const { return capacity_; }

  using ContextOp = std::function<TSS2_RC(ESYS_CONTEXT*)>;
  using ObjectOp = std::function<TSS2_RC(ESYS_CONTEXT*, ESYS_TR)>;
  using AttestOp =
      std::function<TSS2_RC(ESYS_CONTEXT*, ESYS_TR object, ESYS_TR ak, const TPM2B_PUBLIC& ak_public)>;

  // `what` names the operation in errors. Ops must be repeatable: they may run twice.
  Status WithContext(std::string_view what, const ContextOp& op);
  Status WithStorageKey(std::string_view what, const ObjectOp& op);
  // TPM2_Create under the SRK: the new object's public and private areas.
  Result<ObjectBlob> CreateUnderStorageKey(std::string_view what, const TPM2B_SENSITIVE_CREATE& sensitive,
                                           const TPM2B_PUBLIC& in_public);
  // Loads the object under the SRK (or takes it from the cache) and runs `op` on it. A load
  // the TPM rejects as not its own is CryptoTokenKit -3, cause tpm-cleared.
  Status WithObject(const ObjectBlob& blob, std::string_view what, const ObjectOp& op);
  // As WithObject, with an HMAC session salted with the SRK (so only this process and the TPM
  // know its key) that authorizes the object and encrypts the first command parameter
  // (TPMA_SESSION_DECRYPT) and/or the first response parameter (TPMA_SESSION_ENCRYPT) with
  // AES-128-CFB: authorization values and sealed data never cross the bus in clear.
  using SessionOp = std::function<TSS2_RC(ESYS_CONTEXT*, ESYS_TR object, ESYS_TR session)>;
  Status WithObjectInSession(const ObjectBlob& blob, std::string_view what, TPMA_SESSION encrypt,
                             const SessionOp& op);
  // Also creates the attestation key (a primary in the endorsement hierarchy, flushed after).
  Status WithObjectAndAttestationKey(const ObjectBlob& blob, std::string_view what, const AttestOp& op);

  size_t cached_objects_for_testing();

 private:
  struct Outcome {
    TSS2_RC rc = TSS2_RC_SUCCESS;
    bool during_load = false;
  };
  explicit Tpm2Device(std::string tcti) : tcti_(std::move(tcti)) {}
  Status Run(std::string_view what, const std::function<Outcome()>& attempt);
  Status Connect();
  void Disconnect();
  void FlushCache();
  TSS2_RC EnsureStorageKey();
  // A salted, parameter-encrypting HMAC session (see WithObjectInSession); needs the SRK.
  TSS2_RC StartSaltedSession(TPMA_SESSION encrypt, std::optional<TransientObject>* session);
  // Loads (or finds) the object; leaves room for `spare` more transient objects.
  Outcome LoadObject(const ObjectBlob& blob, size_t spare, ESYS_TR* handle);

  std::mutex mu_;
  const std::string tcti_;
  size_t capacity_ = 1;
  std::unique_ptr<TpmConnection> connection_;
  std::optional<TransientObject> srk_;
  // Most recently used first: (cache key, loaded object).
  std::list<std::pair<std::string, TransientObject>> cache_;
};

}  // namespace enclave::token::tpm2
