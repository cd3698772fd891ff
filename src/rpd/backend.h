// What the HTTP layer asks of the relying party. The binary implements it with enclave::rp's
// RelyingParty (rp_backend.cpp); the HTTP layer's tests with a fake. Every call may block on the
// database, so the server makes them on its worker threads, never on the I/O threads.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"

namespace enclave::rpd {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Result<nlohmann::json> RegistrationOptions(const nlohmann::json& body) = 0;
  virtual Result<nlohmann::json> FinishRegistration(const nlohmann::json& body) = 0;
  virtual Result<nlohmann::json> AuthenticationOptions(const nlohmann::json& body) = 0;
  virtual Result<nlohmann::json> FinishAuthentication(const nlohmann::json& body) = 0;
  virtual Result<nlohmann::json> UserCredentials(const std::string& user) = 0;
  virtual Status DeleteCredential(const std::string& credential_id_b64u) = 0;
  virtual Result<nlohmann::json> ApproveStepUp(const std::string& credential_id_b64u) = 0;
  virtual Result<nlohmann::json> ReportDead(const nlohmann::json& body) = 0;
  virtual nlohmann::json Metrics() const = 0;
  virtual Status Healthy() = 0;
  // The HTTP status of a relying-party reason (its closed set); 0 or anything outside 400-599 is
  // answered as 500.
  virtual int StatusOf(const std::string& reason) const = 0;

  // The fleet view (docs/fleet.md). Errors carry user_info.http_status. A backend without one
  // answers every call with fleet-unavailable (503).
  using Query = std::map<std::string, std::string>;
  struct Export {
    std::string content_type, body;
    bool truncated = false;
  };
  // POST /v1/reports: the signed envelope as sent.
  virtual Result<nlohmann::json> IngestReports(const std::string&) { return NoFleet(); }
  virtual Result<nlohmann::json> FleetSummary(const Query&) { return NoFleet(); }
  virtual Result<nlohmann::json> FleetIssues() { return NoFleet(); }
  virtual Result<nlohmann::json> FleetIssue(const std::string&, const Query&) { return NoFleet(); }
  virtual Result<nlohmann::json> FleetResolve(const std::string&) { return NoFleet(); }
  virtual Result<Export> FleetExport(const Query&) { return NoFleet(); }

 private:
  static Error NoFleet() {
    return OSStatusError(errsec::kNotAvailable, "this server keeps no fleet view")
        .WithCause("fleet-unavailable")
        .WithInfo("http_status", 503);
  }
};

}  // namespace enclave::rpd
