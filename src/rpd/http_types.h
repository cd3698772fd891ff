// The HTTP layer's own request and response values. They carry only what the API needs, so that
// routing, limits and the relying party's answers are written and tested without Beast (whose
// headers are heavy to compile and stay in server.cpp alone).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace enclave::rpd {

struct Request {
  std::string method;  // as sent: "GET", "POST", ...
  std::string target;  // origin-form: path and optional query
  std::string content_type;
  std::string authorization;
  std::string forwarded_for;   // X-Forwarded-For, used only with --trust-forwarded-for
  std::string remote_address;  // the peer of the TCP connection
  std::string body;
  // For the dashboard's session and its forms (rpd/dashboard*.h).
  std::string cookie;
  std::string origin;
  std::string host;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // The error reason for the request log and the metrics; empty on success.
  std::string reason;
  // The connection is closed after this response (limits broken, the stream is not trusted).
  bool close = false;
};

}  // namespace enclave::rpd
