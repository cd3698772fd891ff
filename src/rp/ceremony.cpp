#include "rp/ceremony.h"

#include "rp/reasons.h"

namespace enclave::rp {
namespace {

// The challenge is consumed whatever follows: a presented challenge is spent, so an answer that
// fails a later check cannot be retried with the same challenge.
Result<ChallengeRecord> RedeemOfKind(Store& store, ByteView challenge, CeremonyKind kind, int64_t now_ms) {
  if (challenge.size() != 32) return Reject(reason::kChallengeUnknown, "the challenge was not issued here");
  ASSIGN_OR_RETURN(Redemption r, store.RedeemChallenge(challenge, now_ms));
  if (r.outcome == Redeemed::kReused)
    return Reject(reason::kChallengeReused, "the challenge was already used");
  if (r.outcome != Redeemed::kOk || !r.challenge)
    return Reject(reason::kChallengeUnknown, "the challenge was not issued here");
  if (r.challenge->kind != kind) {
    return Reject(reason::kChallengeUnknown, kind == CeremonyKind::kRegistration
                                                 ? "the challenge was issued for an authentication"
                                                 : "the challenge was issued for a registration");
  }
  if (now_ms > r.challenge->expires_ms) return Reject(reason::kChallengeExpired, "the challenge has expired");
  return std::move(*r.challenge);
}

}  // namespace

Result<RegistrationCeremony> RegistrationCeremony::Redeem(Store& store, ByteView challenge, int64_t now_ms) {
  ASSIGN_OR_RETURN(auto c, RedeemOfKind(store, challenge, CeremonyKind::kRegistration, now_ms));
  return RegistrationCeremony(std::move(c));
}

Result<AuthenticationCeremony> AuthenticationCeremony::Redeem(Store& store, ByteView challenge,
                                                              int64_t now_ms) {
  ASSIGN_OR_RETURN(auto c, RedeemOfKind(store, challenge, CeremonyKind::kAuthentication, now_ms));
  return AuthenticationCeremony(std::move(c));
}

}  // namespace enclave::rp
