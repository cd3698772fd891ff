// Typed ceremony state, as webauthn-rs has it: what an options call issued, once redeemed from the
// store. Only Redeem makes one, only for a challenge of the right kind that was still unspent and
// in time, so a finish step cannot run on anything else.
#pragma once

#include "common/result.h"
#include "rp/store/store.h"

namespace enclave::rp {

class RegistrationCeremony {
 public:
  static Result<RegistrationCeremony> Redeem(Store& store, ByteView challenge, int64_t now_ms);
  const ChallengeRecord& challenge() const { return c_; }

 private:
  explicit RegistrationCeremony(ChallengeRecord c) : c_(std::move(c)) {}
  ChallengeRecord c_;
};

class AuthenticationCeremony {
 public:
  static Result<AuthenticationCeremony> Redeem(Store& store, ByteView challenge, int64_t now_ms);
  const ChallengeRecord& challenge() const { return c_; }

 private:
  explicit AuthenticationCeremony(ChallengeRecord c) : c_(std::move(c)) {}
  ChallengeRecord c_;
};

}  // namespace enclave::rp
