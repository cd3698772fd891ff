#include "rpclient/http.h"

#include <curl/curl.h>
#include <dlfcn.h>

#include <mutex>

#include "common/dynamic_library.h"

namespace enclave::rpclient {
namespace {

// The most of an answer kept: the relying party's answers are a few KiB; a larger one is not
// the API and is cut off rather than read into memory without bound.
constexpr size_t kMaxAnswer = size_t{1} << 20;

// libcurl's entry points, resolved once from libcurl.so.4 (the SONAME every libcurl flavour of
// Debian 12 and later provides under this name for the OpenSSL build).
struct Curl {
  CURLcode (*global_init)(long) = nullptr;
  CURL* (*easy_init)() = nullptr;
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...) = nullptr;
  CURLcode (*easy_perform)(CURL*) = nullptr;
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...) = nullptr;
  void (*easy_cleanup)(CURL*) = nullptr;
  const char* (*easy_strerror)(CURLcode) = nullptr;
  curl_slist* (*slist_append)(curl_slist*, const char*) = nullptr;
  void (*slist_free_all)(curl_slist*) = nullptr;
  std::string missing;  // why it could not be loaded; empty when loaded
};

const Curl& LoadCurl() {
  static Curl curl;
  static std::once_flag once;
  std::call_once(once, [] {
    void* lib = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      const char* why = ::dlerror();
      curl.missing = std::string("libcurl.so.4 cannot be loaded: ") + (why ? why : "unknown reason");
      return;
    }
    const bool all = ResolveSymbol(lib, "curl_global_init", &curl.global_init) &&
                     ResolveSymbol(lib, "curl_easy_init", &curl.easy_init) &&
                     ResolveSymbol(lib, "curl_easy_setopt", &curl.easy_setopt) &&
                     ResolveSymbol(lib, "curl_easy_perform", &curl.easy_perform) &&
                     ResolveSymbol(lib, "curl_easy_getinfo", &curl.easy_getinfo) &&
                     ResolveSymbol(lib, "curl_easy_cleanup", &curl.easy_cleanup) &&
                     ResolveSymbol(lib, "curl_easy_strerror", &curl.easy_strerror) &&
                     ResolveSymbol(lib, "curl_slist_append", &curl.slist_append) &&
                     ResolveSymbol(lib, "curl_slist_free_all", &curl.slist_free_all);
    if (!all) {
      curl.missing = "libcurl.so.4 lacks a function enclave uses";
      return;
    }
    // Once per process, before any thread uses libcurl (curl_global_init is not thread-safe).
    if (curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) curl.missing = "curl_global_init failed";
  });
  return curl;
}

size_t Collect(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  const size_t n = size * count;
  // Returning less than n makes libcurl stop with CURLE_WRITE_ERROR.
  if (body->size() + n > kMaxAnswer) return 0;
  body->append(data, n);
  return n;
}

bool HttpUrl(const std::string& url) { return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0; }

}  // namespace

Error RelyingPartyError(long http_status, const std::string& cause, const std::string& description) {
  Error e;
  e.domain = kRelyingPartyDomain;
  e.code = http_status;
  e.description = description;
  e.cause = cause;
  return e;
}

std::string JoinUrl(const std::string& base, const std::string& path) {
  std::string b = base;
  while (!b.empty() && b.back() == '/') b.pop_back();
  return b + path;
}

Result<HttpResponse> PostJson(const std::string& url, const std::string& json_body,
                              const HttpOptions& options) {
  if (!HttpUrl(url)) {
    return OSStatusError(errsec::kParam, "the server must be an http:// or https:// URL, not '" + url + "'")
        .WithCause("bad-parameter");
  }
  const Curl& curl = LoadCurl();
  if (!curl.missing.empty()) return RelyingPartyError(0, "server-unreachable", curl.missing);
  CURL* h = curl.easy_init();
  if (h == nullptr) return RelyingPartyError(0, "server-unreachable", "curl_easy_init failed");
  curl_slist* headers = curl.slist_append(nullptr, "Content-Type: application/json");
  headers = curl.slist_append(headers, "Accept: application/json");
  // No "Expect: 100-continue" round trip for the small bodies of this API.
  headers = curl.slist_append(headers, "Expect:");
  HttpResponse response;
  char error_text[CURL_ERROR_SIZE] = {0};
  curl.easy_setopt(h, CURLOPT_URL, url.c_str());
  curl.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl.easy_setopt(h, CURLOPT_TIMEOUT_MS, options.timeout_ms);
  curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, options.timeout_ms < 10000 ? options.timeout_ms : 10000L);
  curl.easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl.easy_setopt(h, CURLOPT_POST, 1L);
  curl.easy_setopt(h, CURLOPT_POSTFIELDS, json_body.data());
  curl.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(json_body.size()));
  curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, &Collect);
  curl.easy_setopt(h, CURLOPT_WRITEDATA, &response.body);
  curl.easy_setopt(h, CURLOPT_ERRORBUFFER, error_text);
  curl.easy_setopt(h, CURLOPT_USERAGENT, "enclave");
  curl.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options.ca_file.empty()) curl.easy_setopt(h, CURLOPT_CAINFO, options.ca_file.c_str());
  const CURLcode rc = curl.easy_perform(h);
  if (rc == CURLE_OK) {
    curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    char* type = nullptr;
    if (curl.easy_getinfo(h, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type != nullptr) {
      response.content_type = type;
    }
  }
  curl.easy_cleanup(h);
  curl.slist_free_all(headers);
  if (rc != CURLE_OK) {
    const std::string why = error_text[0] != 0 ? error_text : curl.easy_strerror(rc);
    const char* cause = rc == CURLE_WRITE_ERROR ? "server-answer-malformed" : "server-unreachable";
    return RelyingPartyError(0, cause, "POST " + url + ": " + why)
        .WithInfo("curl_code", static_cast<int>(rc));
  }
  return response;
}

}  // namespace enclave::rpclient
