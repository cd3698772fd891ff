// The C API's handles: connection, attributes, authentication contexts, errors and memory.
// Key operations are in keys.cpp.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "capi/handles.h"

namespace enclave::capi {
namespace {

// Where an installed or built libenclave finds its enclaved when $ENCLAVED is not set: relative
// to the library file itself, because the calling program (python3, an app) lives elsewhere.
std::filesystem::path DaemonBesideLibrary() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&enclave_version), &info) == 0 || info.dli_fname == nullptr) return {};
  std::error_code ec;
  const auto lib_dir = std::filesystem::canonical(info.dli_fname, ec).parent_path();
  if (ec) return {};
  for (const char* rel : {ENCLAVE_CAPI_DAEMON_DIRS}) {
    const auto candidate = (lib_dir / rel / "enclaved").lexically_normal();
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

bool IsTrue(std::string_view v) { return v == "true"; }

}  // namespace

void SetError(enclave_error** err, Error e) {
  if (err == nullptr) return;
  *err = nullptr;
  try {
    auto* out = new enclave_error;
    out->domain = e.domain;
    out->description = e.description;
    out->cause = e.effective_cause();
    out->permanence = e.permanence();
    out->remedy = e.remedy();
    out->json = e.ToJson().dump();
    out->error = std::move(e);
    *err = out;
  } catch (...) {
    // Out of memory while reporting: the -1 return still says it failed.
  }
}

Status CopyOut(ByteView data, uint8_t** out, size_t* len) {
  if (out == nullptr || len == nullptr) return ParamError("missing output buffer pointer");
  // malloc(0) may return NULL; one byte keeps "success means a buffer to free" true.
  auto* p = static_cast<uint8_t*>(std::malloc(data.empty() ? 1 : data.size()));
  if (p == nullptr) return OSStatusError(errsec::kAllocate, "out of memory").WithCause("internal");
  if (!data.empty()) std::memcpy(p, data.data(), data.size());
  *out = p;
  *len = data.size();
  return Ok();
}

Status CopyOutText(const std::string& text, char** out) {
  if (out == nullptr) return ParamError("missing output pointer");
  auto* p = static_cast<char*>(std::malloc(text.size() + 1));
  if (p == nullptr) return OSStatusError(errsec::kAllocate, "out of memory").WithCause("internal");
  std::memcpy(p, text.c_str(), text.size() + 1);
  *out = p;
  return Ok();
}

}  // namespace enclave::capi

using namespace enclave;        // NOLINT(google-build-using-namespace)
using namespace enclave::capi;  // NOLINT(google-build-using-namespace)

extern "C" {

const char* enclave_version(void) { return ENCLAVE_VERSION; }

int enclave_open(const char* home, enclave_handle** out, enclave_error** err) {
  return Guard(err, [&]() -> Status {
    if (out == nullptr) return ParamError("enclave_open: out is NULL");
    *out = nullptr;
    client::ConnectOptions options;
    if (home != nullptr && *home != '\0') options.home = home;
    const char* env = std::getenv("ENCLAVED");
    if (env == nullptr || *env == '\0') options.daemon_path = DaemonBesideLibrary();
    auto conn = std::make_shared<Connection>(std::move(options));
    RETURN_IF_ERROR(conn->Open());
    *out = new enclave_handle{std::move(conn)};
    return Ok();
  });
}

void enclave_close(enclave_handle* e) { delete e; }

enclave_attrs* enclave_attrs_new(void) { return new (std::nothrow) enclave_attrs; }

int enclave_attrs_set(enclave_attrs* attrs, const char* name, const void* value, size_t len) {
  if (attrs == nullptr || name == nullptr || !KnownAttr(name)) return -1;
  if (value == nullptr && len != 0) return -1;
  if (len == ENCLAVE_STRLEN) len = std::strlen(static_cast<const char*>(value));
  try {
    SecureBytes v(ByteView(static_cast<const uint8_t*>(value), len));
    const std::string n = name;
    if (n == "permanent" || n == "ssh" || n.rfind("can_", 0) == 0) {
      const std::string_view t(reinterpret_cast<const char*>(v.data()), v.size());
      if (t != "true" && t != "false") return -1;
    }
    attrs->values[n] = std::move(v);
    return 0;
  } catch (...) {
    return -1;
  }
}

void enclave_attrs_free(enclave_attrs* attrs) { delete attrs; }

int enclave_context_create(enclave_handle* e, int reuse_seconds, enclave_context** out, enclave_error** err) {
  return Guard(err, [&]() -> Status {
    if (e == nullptr || out == nullptr) return ParamError("enclave_context_create: NULL argument");
    if (reuse_seconds < 0) return ParamError("reuse_seconds must not be negative");
    auto ctx = std::make_unique<enclave_context>();
    ctx->conn = e->conn;
    if (reuse_seconds > 0) {
      ASSIGN_OR_RETURN(ctx->id,
                       e->conn->With([&](client::Client& c) { return c.CreateAuthContext(reuse_seconds); }));
    }
    *out = ctx.release();
    return Ok();
  });
}

int enclave_context_set(enclave_context* ctx, const char* name, const void* value, size_t len) {
  if (ctx == nullptr || name == nullptr || (value == nullptr && len != 0)) return -1;
  if (len == ENCLAVE_STRLEN) len = std::strlen(static_cast<const char*>(value));
  try {
    SecureBytes v(ByteView(static_cast<const uint8_t*>(value), len));
    const std::string n = name;
    if (n == "interaction_allowed") {
      const std::string t = ToString(v.view());
      if (t != "true" && t != "false") return -1;
      ctx->interaction_allowed = IsTrue(t);
    } else if (n == "passcode") {
      ctx->passcode = std::move(v);
    } else if (n == "application_password") {
      ctx->application_password = std::move(v);
    } else {
      return -1;
    }
    return 0;
  } catch (...) {
    return -1;
  }
}

int enclave_context_invalidate(enclave_context* ctx, enclave_error** err) {
  return Guard(err, [&]() -> Status {
    if (ctx == nullptr) return ParamError("enclave_context_invalidate: NULL context");
    if (!ctx->id) return Ok();
    return ctx->conn->With([&](client::Client& c) { return c.InvalidateAuthContext(*ctx->id); });
  });
}

void enclave_context_free(enclave_context* ctx) { delete ctx; }

int enclave_doctor(enclave_handle* e, char** json, enclave_error** err) {
  return Guard(err, [&]() -> Status {
    if (e == nullptr || json == nullptr) return ParamError("enclave_doctor: NULL argument");
    ASSIGN_OR_RETURN(auto report, e->conn->With([](client::Client& c) {
      return c.Admin("doctor", nlohmann::json::object(), {});
    }));
    return CopyOutText(report.dump(), json);
  });
}

int enclave_set_app(enclave_handle* e, const char* app_id, const char* app_version, enclave_error** err) {
  return Guard(err, [&]() -> Status {
    if (e == nullptr) return ParamError("enclave_set_app: NULL handle");
    return e->conn->With([&](client::Client& c) -> Status {
      for (const auto& [key, value] : {std::pair{"app-id", app_id}, std::pair{"app-version", app_version}}) {
        auto set = c.Admin("config.set", {{"key", key}, {"value", value ? value : ""}}, {});
        if (!set.ok()) return std::move(set).error();
      }
      return Ok();
    });
  });
}

void enclave_free(void* p) { std::free(p); }

const char* enclave_error_domain(const enclave_error* err) { return err ? err->domain.c_str() : ""; }
long enclave_error_code(const enclave_error* err) { return err ? static_cast<long>(err->error.code) : 0; }
const char* enclave_error_description(const enclave_error* err) {
  return err ? err->description.c_str() : "";
}
const char* enclave_error_cause(const enclave_error* err) { return err ? err->cause.c_str() : ""; }
const char* enclave_error_permanence(const enclave_error* err) { return err ? err->permanence.c_str() : ""; }
const char* enclave_error_remedy(const enclave_error* err) { return err ? err->remedy.c_str() : ""; }
int enclave_error_prompted(const enclave_error* err) {
  return err && err->error.prompted.value_or(false) ? 1 : 0;
}
const char* enclave_error_json(const enclave_error* err) { return err ? err->json.c_str() : "{}"; }
void enclave_error_free(enclave_error* err) { delete err; }

}  // extern "C"
