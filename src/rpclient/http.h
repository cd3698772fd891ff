// The device side's HTTP client: JSON POSTs to a relying party over libcurl, in the calling
// process (the CLI, an app through the C API), never in enclaved, which holds the keys and does
// not talk to the network. libcurl is opened on first use: most `enclave` commands never need
// it, and every command is a new process that would otherwise load and relocate it and the
// dozen libraries it pulls in.
#pragma once

#include <string>

#include "common/result.h"

namespace enclave::rpclient {

// The domain of every error about the relying party: its refusals (code = the HTTP status,
// cause = the server's "reason"), an unreachable server (code 0) and answers that are not what
// its API promises.
inline constexpr char kRelyingPartyDomain[] = "RelyingParty";

struct HttpOptions {
  std::string ca_file;  // PEM bundle of trusted CAs; empty: the system's store
  long timeout_ms = 30000;
};

struct HttpResponse {
  long status = 0;
  std::string content_type;
  std::string body;
};

// An error of the relying-party domain.
Error RelyingPartyError(long http_status, const std::string& cause, const std::string& description);

// POSTs `json_body` (Content-Type: application/json) to `url` and returns the answer whatever
// its status. A failure to reach the server, a TLS failure or libcurl missing is an error
// (cause server-unreachable). Redirects are not followed: a POST carrying a credential goes
// only where it was sent. Only http and https URLs are accepted.
Result<HttpResponse> PostJson(const std::string& url, const std::string& json_body,
                              const HttpOptions& options);

// The server's base URL and an API path as one URL ("https://rp.example/base/" + "/v1/x").
std::string JoinUrl(const std::string& base, const std::string& path);

}  // namespace enclave::rpclient
