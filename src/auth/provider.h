// Who can prove the user's presence: biometry providers (a simulator for tests, fprintd for real
// readers) behind one interface, and the evaluator that applies a key's policy with them.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/policy.h"
#include "common/bytes.h"
#include "common/result.h"

namespace enclave::auth {

struct BiometryState {
  bool available = false;             // a provider and a reader exist
  std::vector<std::string> enrolled;  // finger names
  std::string database_id;            // changes when biometry is reset (database re-created)
  std::string enrolled_set_hash;      // hash of the enrolled templates' ids
  bool locked_out = false;
  // Whether this provider can see a change of the enrolled set (fprintd cannot see a finger
  // re-enrolled under the same name); when false, biometry-current-set keys are refused.
  bool detects_set_changes = true;
};

class BiometryProvider {
 public:
  virtual ~BiometryProvider() = default;
  virtual std::string_view name() const = 0;  // "simulator", "fprintd"
  virtual Result<BiometryState> State() = 0;
  // Shows `prompt` and waits for a finger. LocalAuthentication errors: -1 no match, -2 cancel,
  // -6 not available, -7 not enrolled, -8 lockout.
  virtual Status AuthenticateSlowly(std::string_view prompt) = 0;
  // Caveats to show in `enclave status` (what this provider cannot detect).
  virtual std::vector<std::string> Limitations() const = 0;
  // Ends a running AuthenticateSlowly from another thread (the client went away or asked to
  // stop); it then fails with LocalAuthentication -2. Providers that answer at once ignore it.
  virtual void CancelAuthentication() {}
};

// The simulator's controls (`enclave biometry …`); the simulator persists them in the home.
class BiometrySimulator : public BiometryProvider {
 public:
  enum class NextResult { kMatch, kNoMatch, kCancel, kLockout };
  static Result<std::unique_ptr<BiometrySimulator>> Open(const std::string& state_file);
  virtual Status Enroll(std::string_view finger) = 0;
  virtual Status Unenroll(std::string_view finger) = 0;
  // Erases the database: a new database id, no fingers enrolled.
  virtual Status Reset() = 0;
  virtual Status SetNextResult(NextResult r) = 0;
  virtual nlohmann::json Describe() = 0;
};

// fprintd over the system D-Bus (sd-bus). Errors at open: LocalAuthentication -6.
Result<std::unique_ptr<BiometryProvider>> OpenFprintd(std::string_view user);

// One request's authentication inputs (LAContext-like).
struct AuthRequest {
  std::string operation_prompt;
  bool interaction_allowed = true;
  std::optional<SecureBytes> passcode;  // supplied by the client (pinentry / fd)
  std::optional<SecureBytes> application_password;
  // Methods ("biometry", "passcode", "application-password") a reused authentication context
  // still vouches for (AuthContextStore::Satisfied); they are not asked again.
  std::vector<std::string> already_satisfied;
};

struct Evaluation {
  bool prompted = false;  // a user was asked
  // Methods proven by this evaluation or taken from the context ("biometry", "passcode",
  // "application-password"); record them in the request's context for reuse.
  std::vector<std::string> satisfied;
};

struct EvaluatorDeps {
  BiometryProvider* biometry = nullptr;  // may be null (no provider configured)
  bool passcode_set = false;
  std::function<Status(const SecureBytes&)> verify_passcode;
};

// Without prompting: can this policy still ever be satisfied? Policy invalid (biometry database
// reset, enrolled set changed) is AKS kPolicyInvalid with cause biometry-database-reset or
// biometry-set-changed; this is what `doctor` uses and what sign checks first.
Status CheckStillSatisfiable(const AccessPolicy& policy, const BiometryState& state);

// Fills the biometry identity into a new key's policy, or refuses flags the provider cannot
// enforce (errSecParam / LocalAuthentication -7 when no finger is enrolled).
Status BindPolicyAtCreation(AccessPolicy& policy, BiometryProvider* biometry);

// Evaluates the policy for a private-key operation, prompting as needed. Failures carry
// `prompted`. A passcode needed but not supplied: OSStatus errSecAuthNeeded (-25330) with
// user_info {"needs":"passcode"} so the client can ask (pinentry) and retry; when interaction
// is not allowed: errSecInteractionNotAllowed (-25308).
Result<Evaluation> Evaluate(const AccessPolicy& policy, const AuthRequest& request,
                            const EvaluatorDeps& deps);

// Passcode entry through pinentry (Assuan): the prompt is shown as the description. Used by the
// CLI (the process with the user's terminal). Errors: LocalAuthentication -2 on cancel.
Result<SecureBytes> AskPasscodeWithPinentry(std::string_view description, std::string_view prompt,
                                            bool confirm = false);

}  // namespace enclave::auth
