#include "rp/reasons.h"

#include <string_view>
#include <unordered_map>

namespace enclave::rp {

Error Reject(const char* reason, std::string message) {
  std::string_view r = reason;
  int64_t code = r == reason::kSignatureInvalid    ? errsec::kVerifyFailed
                 : r == reason::kCredentialUnknown ? errsec::kItemNotFound
                 : r == reason::kCredentialExists  ? errsec::kDuplicateItem
                 : r == reason::kChallengeReused   ? errsec::kAuthFailed
                                                   : errsec::kParam;
  return OSStatusError(code, std::move(message)).WithCause(reason);
}

namespace {

const std::unordered_map<std::string, int>& StatusTable() {
  static const std::unordered_map<std::string, int> kStatus = {
      {reason::kMalformed, 400},
      {reason::kChallengeUnknown, 400},
      {reason::kChallengeExpired, 400},
      {reason::kChallengeReused, 400},
      {reason::kOriginMismatch, 400},
      {reason::kRpIdMismatch, 400},
      {reason::kSignatureInvalid, 400},
      {reason::kCredentialUnknown, 404},
      {reason::kCredentialNotOwned, 400},
      {reason::kCredentialDead, 400},
      {reason::kUserVerificationRequired, 400},
      {reason::kCounterRegressed, 400},
      {reason::kTypeMismatch, 400},
      {reason::kUserPresenceRequired, 400},
      {reason::kUnsupportedAlgorithm, 400},
      {reason::kAttestationUnsupported, 400},
      {reason::kAttestationInvalid, 400},
      {reason::kBackupEligibilityChanged, 400},
      {reason::kCredentialExists, 409},
      {reason::kTooManyCredentials, 409},
      {reason::kUserInvalid, 400},
      {reason::kStepUpRequired, 403},
      {reason::kStepUpNotPending, 409},
      {reason::kDeviceKeyUnknown, 400},
      {reason::kSchemaInvalid, 400},
      {reason::kUnknownDevice, 403},
      {reason::kBatchTooLarge, 413},
      {reason::kQueryInvalid, 400},
      {reason::kIssueUnknown, 404},
      {reason::kFleetUnavailable, 503},
      // the store's (src/rp/store/sql.h)
      {"store-unavailable", 503},
      {"store-busy", 503},
      {"store-failed", 500},
      {"store-conflict", 409},
      {"store-schema-newer", 500},
  };
  return kStatus;
}

}  // namespace

int HttpStatusOf(const std::string& r) {
  auto it = StatusTable().find(r);
  return it == StatusTable().end() ? 500 : it->second;
}

std::vector<std::pair<std::string, int>> KnownReasons() {
  return {StatusTable().begin(), StatusTable().end()};
}

}  // namespace enclave::rp
