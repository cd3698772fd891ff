// Applies a key's access control: the non-prompting binding checks, the binding at creation,
// and the prompting evaluation.
#include <algorithm>

#include "auth/provider.h"

namespace enclave::auth {
namespace {

constexpr char kBiometry[] = "biometry";
constexpr char kPasscode[] = "passcode";
constexpr char kApplicationPassword[] = "application-password";

Error PolicyInvalid(std::string description, std::string cause) {
  return KeystoreError(aks::kPolicyInvalid, std::move(description)).WithCause(std::move(cause));
}

Error WithPrompted(Error e, bool prompted) {
  e.prompted = prompted;
  return e;
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// One evaluation in progress: what is proven so far and whether the user has been asked.
class Evaluator {
 public:
  Evaluator(const AuthRequest& request, const EvaluatorDeps& deps) : request_(request), deps_(deps) {}

  bool prompted() const { return result_.prompted; }
  Evaluation Take() { return std::move(result_); }

  bool Has(std::string_view method) const { return Contains(result_.satisfied, method); }
  bool Reused(std::string_view method) {
    if (!Contains(request_.already_satisfied, method)) return false;
    Add(method);
    return true;
  }

  // Whether a biometric prompt could be shown now: a provider with an enrolled finger that is
  // not locked out. Used by user-presence and `or` to fall back to the passcode.
  bool BiometryUsable() const {
    if (deps_.biometry == nullptr) return false;
    auto state = deps_.biometry->State();
    return state.ok() && state->available && !state->enrolled.empty() && !state->locked_out;
  }

  Status Biometry() {
    if (Has(kBiometry) || Reused(kBiometry)) return Ok();
    if (deps_.biometry == nullptr) {
      return WithPrompted(AuthError(laerror::kBiometryNotAvailable, "no biometry provider is configured")
                              .WithCause("biometry-not-available"),
                          prompted());
    }
    if (!request_.interaction_allowed) return InteractionNotAllowed("biometry");
    // The prompt is shown by the provider (simulator or reader) before the outcome is known.
    result_.prompted = true;
    Status s = deps_.biometry->AuthenticateSlowly(request_.operation_prompt);
    if (!s.ok()) return WithPrompted(std::move(s).error(), true);
    Add(kBiometry);
    return Ok();
  }

  Status Passcode() {
    if (Has(kPasscode) || Reused(kPasscode)) return Ok();
    if (!deps_.passcode_set) {
      return WithPrompted(AuthError(laerror::kPasscodeNotSet, "a device passcode is required but none is set")
                              .WithCause("passcode-not-set"),
                          prompted());
    }
    if (!request_.passcode.has_value()) {
      if (!request_.interaction_allowed) return InteractionNotAllowed("passcode");
      return WithPrompted(
          OSStatusError(errsec::kAuthNeeded, "the device passcode is needed for this operation")
              .WithInfo("needs", kPasscode)
              .WithInfo("prompt", request_.operation_prompt),
          prompted());
    }
    if (!deps_.verify_passcode) {
      return WithPrompted(OSStatusError(errsec::kInternal, "no passcode verifier").WithCause("internal"),
                          prompted());
    }
    // The passcode was typed by the user (pinentry or a script on their behalf).
    result_.prompted = true;
    Status s = deps_.verify_passcode(*request_.passcode);
    if (!s.ok()) return WithPrompted(std::move(s).error(), true);
    Add(kPasscode);
    return Ok();
  }

  // user-presence: biometry when it can be used, else the passcode (the phone's fallback).
  Status UserPresence() {
    if (Has(kBiometry) || Has(kPasscode) || Reused(kBiometry) || Reused(kPasscode)) return Ok();
    if (request_.passcode.has_value() && deps_.passcode_set) return Passcode();
    if (BiometryUsable()) return Biometry();
    return Passcode();
  }

  Status ApplicationPassword(const AccessPolicy& policy) {
    if (Reused(kApplicationPassword)) return Ok();
    if (!request_.application_password.has_value()) {
      if (!request_.interaction_allowed) return InteractionNotAllowed("application password");
      return WithPrompted(
          OSStatusError(errsec::kAuthNeeded, "the application password is needed for this operation")
              .WithInfo("needs", kApplicationPassword)
              .WithInfo("prompt", request_.operation_prompt),
          prompted());
    }
    if (!policy.ApplicationPasswordMatches(*request_.application_password)) {
      return WithPrompted(OSStatusError(errsec::kAuthFailed, "the application password is wrong")
                              .WithCause("authentication-failed"),
                          prompted());
    }
    Add(kApplicationPassword);
    return Ok();
  }

 private:
  void Add(std::string_view method) {
    if (!Has(method)) result_.satisfied.emplace_back(method);
  }
  Error InteractionNotAllowed(const std::string& what) {
    return WithPrompted(OSStatusError(errsec::kInteractionNotAllowed,
                                      "user interaction is not allowed, but this operation needs the " + what)
                            .WithCause("interaction-not-allowed"),
                        prompted());
  }

  const AuthRequest& request_;
  const EvaluatorDeps& deps_;
  Evaluation result_;
};

}  // namespace

// A biometry-current-set key becomes usable again when the enrolled set returns to the one it
// was bound to (the added finger removed), as on the phone: the check compares hashes, it does
// not remember that the set once differed. A database reset is final: the new database never
// gets the old identity back.
Status CheckStillSatisfiable(const AccessPolicy& policy, const BiometryState& state) {
  if (!policy.needs_biometry()) return Ok();
  // Without a reachable provider nothing can be concluded; the evaluation reports -6.
  if (!state.available) return Ok();
  if (policy.biometry_database_id.empty()) {
    return PolicyInvalid("the access control was never bound to a biometric database",
                         "biometry-database-reset");
  }
  if (policy.biometry_database_id != state.database_id) {
    return PolicyInvalid("the biometric database this key was bound to was reset", "biometry-database-reset");
  }
  if ((policy.flags & flag::kBiometryCurrentSet) && policy.biometry_set_hash != state.enrolled_set_hash) {
    return PolicyInvalid("the enrolled biometry changed since this key was created", "biometry-set-changed");
  }
  return Ok();
}

Status BindPolicyAtCreation(AccessPolicy& policy, BiometryProvider* biometry) {
  policy.biometry_database_id.clear();
  policy.biometry_set_hash.clear();
  if (!policy.needs_biometry()) return Ok();
  if (biometry == nullptr) {
    return AuthError(laerror::kBiometryNotAvailable,
                     "biometry is not available: no biometry provider is configured (enclave config set "
                     "biometry …)")
        .WithCause("biometry-not-available");
  }
  ASSIGN_OR_RETURN(BiometryState state, biometry->State());
  if (!state.available) {
    return AuthError(laerror::kBiometryNotAvailable,
                     "biometry is not available: " + std::string(biometry->name()) + " has no reader")
        .WithCause("biometry-not-available");
  }
  if (state.enrolled.empty()) {
    return AuthError(laerror::kBiometryNotEnrolled, "no biometry is enrolled")
        .WithCause("biometry-not-enrolled");
  }
  if ((policy.flags & flag::kBiometryCurrentSet) && !state.detects_set_changes) {
    std::string why;
    for (const auto& l : biometry->Limitations()) why += (why.empty() ? "" : "; ") + l;
    if (why.empty()) why = "it cannot see changes of the enrolled set";
    return OSStatusError(errsec::kParam, "biometry-current-set cannot be enforced by " +
                                             std::string(biometry->name()) + ": " + why)
        .WithCause("bad-parameter");
  }
  policy.biometry_database_id = state.database_id;
  if (policy.flags & flag::kBiometryCurrentSet) policy.biometry_set_hash = state.enrolled_set_hash;
  return Ok();
}

Result<Evaluation> Evaluate(const AccessPolicy& policy, const AuthRequest& request,
                            const EvaluatorDeps& deps) {
  Evaluator ev(request, deps);
  if (!policy.has_constraints()) return ev.Take();

  // A key whose binding is gone fails before anyone is asked.
  if (policy.needs_biometry() && deps.biometry != nullptr) {
    auto state = deps.biometry->State();
    if (state.ok()) {
      Status s = CheckStillSatisfiable(policy, *state);
      if (!s.ok()) return WithPrompted(std::move(s).error(), false);
    }
  }

  // The application password is asked by the client, not the daemon: check it before
  // bothering the user with a finger.
  if (policy.flags & flag::kApplicationPassword) RETURN_IF_ERROR(ev.ApplicationPassword(policy));

  const bool biometry = policy.needs_biometry();
  const bool passcode = (policy.flags & flag::kDevicePasscode) != 0;
  const bool presence = (policy.flags & flag::kUserPresence) != 0;
  const int constraints = (biometry ? 1 : 0) + (passcode ? 1 : 0) + (presence ? 1 : 0);

  if (constraints > 1 && (policy.flags & flag::kOr)) {
    // Any one: what the client already supplied or the context vouches for, else biometry when
    // it can be used, else the passcode.
    if (ev.Reused(kBiometry) || ev.Reused(kPasscode)) return ev.Take();
    if (passcode && request.passcode.has_value()) {
      RETURN_IF_ERROR(ev.Passcode());
    } else if (biometry && ev.BiometryUsable()) {
      RETURN_IF_ERROR(ev.Biometry());
    } else if (passcode) {
      RETURN_IF_ERROR(ev.Passcode());
    } else {
      RETURN_IF_ERROR(ev.Biometry());
    }
    return ev.Take();
  }

  // All of them (`and`, or the default). The passcode comes first: it may need a round trip
  // to the client, and the finger should not be asked for twice.
  if (passcode) RETURN_IF_ERROR(ev.Passcode());
  if (presence) RETURN_IF_ERROR(ev.UserPresence());
  if (biometry) RETURN_IF_ERROR(ev.Biometry());
  return ev.Take();
}

}  // namespace enclave::auth
