// The relying party's closed set of failure reasons (docs/rp.md): each failed check of WebAuthn
// L3 §7.1/§7.2 has one, and each reason one HTTP status.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/error.h"

namespace enclave::rp::reason {

// docs/rp.md's table
inline constexpr char kMalformed[] = "malformed";
inline constexpr char kChallengeUnknown[] = "challenge-unknown";
inline constexpr char kChallengeExpired[] = "challenge-expired";
inline constexpr char kChallengeReused[] = "challenge-reused";
inline constexpr char kOriginMismatch[] = "origin-mismatch";
inline constexpr char kRpIdMismatch[] = "rp-id-mismatch";
inline constexpr char kSignatureInvalid[] = "signature-invalid";
inline constexpr char kCredentialUnknown[] = "credential-unknown";
inline constexpr char kCredentialNotOwned[] = "credential-not-owned";
inline constexpr char kCredentialDead[] = "credential-dead";
inline constexpr char kUserVerificationRequired[] = "user-verification-required";
inline constexpr char kCounterRegressed[] = "counter-regressed";
// the relying party's own
inline constexpr char kTypeMismatch[] = "type-mismatch";
inline constexpr char kUserPresenceRequired[] = "user-presence-required";
inline constexpr char kUnsupportedAlgorithm[] = "unsupported-algorithm";
inline constexpr char kAttestationUnsupported[] = "attestation-unsupported";
inline constexpr char kAttestationInvalid[] = "attestation-invalid";
inline constexpr char kBackupEligibilityChanged[] = "backup-eligibility-changed";
inline constexpr char kCredentialExists[] = "credential-exists";
inline constexpr char kTooManyCredentials[] = "too-many-credentials";
inline constexpr char kUserInvalid[] = "user-invalid";
inline constexpr char kStepUpRequired[] = "step-up-required";
inline constexpr char kStepUpNotPending[] = "step-up-not-pending";
inline constexpr char kDeviceKeyUnknown[] = "device-key-unknown";
// the fleet view's (docs/fleet.md; a report batch's signature-invalid answers 401, see
// FleetHttpStatusOf in rp/fleet.h)
inline constexpr char kSchemaInvalid[] = "schema-invalid";
inline constexpr char kUnknownDevice[] = "unknown-device";
inline constexpr char kBatchTooLarge[] = "batch-too-large";
inline constexpr char kQueryInvalid[] = "query-invalid";
inline constexpr char kIssueUnknown[] = "issue-unknown";
inline constexpr char kFleetUnavailable[] = "fleet-unavailable";

}  // namespace enclave::rp::reason

namespace enclave::rp {

// An Error whose cause is `reason` (what the HTTP layer answers with) and whose description is
// `message` (for people).
Error Reject(const char* reason, std::string message);

// The HTTP status of a reason: 400, 403, 404, 409, 503 for the store's unavailability, 500 for
// anything unknown.
int HttpStatusOf(const std::string& reason);

// Every reason HttpStatusOf knows, with its status (errors/catalog.json lists each one as a cause
// of the RelyingParty domain under that status; a test holds the two together).
std::vector<std::pair<std::string, int>> KnownReasons();

}  // namespace enclave::rp
