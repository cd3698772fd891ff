// The structs behind the C API's opaque handles, and the edge helpers every entry point uses.
// Nothing here is exported: the version script exports only the enclave_* C functions.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "capi/api.h"
#include "client/client.h"
#include "common/bytes.h"
#include "common/result.h"

namespace enclave::capi {

// One daemon connection shared by an enclave handle and every key and context made through it,
// so that closing the handle first cannot pull the session from under a key still in use.
class Connection {
 public:
  explicit Connection(client::ConnectOptions options) : options_(std::move(options)) {}
  // Connects now, so that enclave_open reports a daemon that cannot be reached.
  Status Open() {
    return With([](client::Client&) -> Status { return Ok(); });
  }

  // Runs fn(Client&) under the connection's lock. A connection lost in an earlier call (daemon
  // stopped or restarted) is opened again first: that call already reported the loss, and what
  // lived in the old session (non-permanent keys, contexts) is gone, as the daemon will say.
  template <typename F>
  auto With(F fn) -> decltype(fn(std::declval<client::Client&>())) {
    std::lock_guard lock(mu_);
    if (!client_ || lost_) {
      auto c = client::Client::Connect(options_);
      if (!c.ok()) return std::move(c).error();
      client_ = std::move(*c);
      lost_ = false;
    }
    auto r = fn(*client_);
    if (!r.ok() && r.error().effective_cause() == "daemon-unavailable") lost_ = true;
    return r;
  }

 private:
  client::ConnectOptions options_;
  std::mutex mu_;
  std::unique_ptr<client::Client> client_;
  bool lost_ = false;
};

// Attribute values by name, as given (bytes); secrets among them are wiped on free.
using AttrMap = std::map<std::string, SecureBytes>;

Result<KeySpec> SpecFrom(const AttrMap& attrs);
Result<KeyQuery> QueryFrom(const AttrMap& attrs, bool match_all);
Result<KeyChanges> ChangesFrom(const AttrMap& attrs);
bool KnownAttr(const std::string& name);

Error ParamError(const std::string& what);
void SetError(enclave_error** err, Error e);
// Copies bytes into a malloc'd buffer the caller frees with enclave_free.
Status CopyOut(ByteView data, uint8_t** out, size_t* len);
Status CopyOutText(const std::string& text, char** out);

// Runs an entry point's body: C++ exceptions (allocation failures, a bug) become errors here and
// never cross into the caller's C code.
template <typename F>
int Guard(enclave_error** err, F body) noexcept {
  try {
    Status s = body();
    if (s.ok()) return 0;
    SetError(err, std::move(s).error());
  } catch (const std::bad_alloc&) {
    SetError(err, OSStatusError(errsec::kAllocate, "out of memory").WithCause("internal"));
  } catch (const std::exception& ex) {
    SetError(
        err,
        OSStatusError(errsec::kInternal, std::string("internal error: ") + ex.what()).WithCause("internal"));
  } catch (...) {
    SetError(err, OSStatusError(errsec::kInternal, "internal error").WithCause("internal"));
  }
  return -1;
}

}  // namespace enclave::capi

struct enclave_handle {
  std::shared_ptr<enclave::capi::Connection> conn;
};

struct enclave_attrs {
  enclave::capi::AttrMap values;
};

struct enclave_key {
  std::atomic<int> refs{1};
  std::shared_ptr<enclave::capi::Connection> conn;
  enclave::KeyInfo info;
};

struct enclave_key_list {
  std::vector<enclave_key*> keys;
  ~enclave_key_list() {
    for (auto* k : keys) enclave_key_release(k);
  }
};

struct enclave_context {
  std::shared_ptr<enclave::capi::Connection> conn;
  std::optional<std::string> id;  // the daemon's context (reuse_seconds > 0)
  bool interaction_allowed = true;
  std::optional<enclave::SecureBytes> passcode;
  std::optional<enclave::SecureBytes> application_password;
};

struct enclave_error {
  enclave::Error error;
  std::string domain, description, cause, permanence, remedy, json;
};
