// fprintd (net.reactivated.Fprint on the system D-Bus) as a biometry provider, for real
// fingerprint readers. Every operation opens its own D-Bus connection and claims the device on
// it: fprintd ties a claim to the connection and releases it when the connection goes.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "auth/provider.h"

namespace enclave::auth {

struct FprintdOptions {
  std::string user;    // whose prints; empty or the caller's own name = the calling uid's user
  std::string finger;  // verify this finger; empty = the only enrolled one, or "any" for several
  std::chrono::seconds verify_timeout{60};  // no finger within this time: LocalAuthentication -4
};

class Fprintd final : public BiometryProvider {
 public:
  // Fails with LocalAuthentication -6 when the bus, fprintd or a reader is missing.
  static Result<std::unique_ptr<Fprintd>> Open(FprintdOptions options);

  std::string_view name() const override { return "fprintd"; }
  // Lists the enrolled fingers (no claim needed). The database id is derived from the user and
  // the reader's name, and the set hash from finger names: fprintd reveals neither templates
  // nor a re-enrollment under the same name.
  Result<BiometryState> State() override;
  // Claim, VerifyStart, wait for the final VerifyStatus (seconds: a user must touch the
  // reader), VerifyStop, Release. The prompt is not shown by fprintd; the client shows it.
  Status AuthenticateSlowly(std::string_view prompt) override;
  std::vector<std::string> Limitations() const override;
  void CancelAuthentication() override { cancel_requested_ = true; }

  // Claim, EnrollStart(finger), wait for enroll-completed (one touch per enroll stage), Release.
  Status EnrollSlowly(std::string_view finger);
  Status DeleteEnrolledFinger(std::string_view finger);

 private:
  explicit Fprintd(FprintdOptions options);
  std::string ClaimUser() const;

  FprintdOptions options_;
  std::atomic<bool> cancel_requested_{false};
};

}  // namespace enclave::auth
