// Device administration commands (Api::Admin): configuration, the biometry simulator's controls,
// passcode and lock state, and the diagnosis reports. Passcodes arrive only in `secrets`.
#include "service/inject.h"
#include "service/session.h"

namespace enclave::service {
namespace {

Error BadArgs(const std::string& what) {
  return OSStatusError(errsec::kParam, what).WithCause("bad-parameter");
}

Result<std::string> StringArg(const nlohmann::json& args, const char* name) {
  if (!args.is_object() || !args.contains(name) || !args[name].is_string()) {
    return BadArgs(std::string("missing argument '") + name + "'");
  }
  return args[name].get<std::string>();
}

Result<nlohmann::json> Biometry(EnclaveImpl& enclave, const nlohmann::json& args) {
  ASSIGN_OR_RETURN(std::string action, StringArg(args, "action"));
  if (action == "status") {
    auto provider = enclave.biometry();
    nlohmann::json j = {{"provider", enclave.config().biometry()}};
    if (auto sim = enclave.simulator(); sim.ok()) {
      j["simulator"] = (*sim)->Describe();
    } else if (provider) {
      auto state = provider->State();
      if (state.ok()) j["enrolled"] = state->enrolled;
      j["limitations"] = provider->Limitations();
    }
    return j;
  }
  ASSIGN_OR_RETURN(auto sim, enclave.simulator());
  using Next = auth::BiometrySimulator::NextResult;
  if (action == "enroll" || action == "unenroll") {
    ASSIGN_OR_RETURN(std::string finger, StringArg(args, "finger"));
    RETURN_IF_ERROR(action == "enroll" ? sim->Enroll(finger) : sim->Unenroll(finger));
  } else if (action == "reset") {
    RETURN_IF_ERROR(sim->Reset());
  } else if (action == "match") {
    RETURN_IF_ERROR(sim->SetNextResult(Next::kMatch));
  } else if (action == "no-match") {
    RETURN_IF_ERROR(sim->SetNextResult(Next::kNoMatch));
  } else if (action == "cancel") {
    RETURN_IF_ERROR(sim->SetNextResult(Next::kCancel));
  } else if (action == "lockout") {
    RETURN_IF_ERROR(sim->SetNextResult(Next::kLockout));
  } else {
    return BadArgs("unknown biometry action '" + action +
                   "' (enroll, unenroll, match, no-match, cancel, lockout, reset, status)");
  }
  enclave.NoteBiometryChange();
  return sim->Describe();
}

Result<nlohmann::json> Passcode(EnclaveImpl& enclave, const std::string& command,
                                const std::vector<SecureBytes>& secrets) {
  keybag::Keybag& bag = enclave.keybag();
  if (command == "unlock") {
    RETURN_IF_ERROR(bag.Unlock(secrets.empty() ? SecureBytes() : secrets[0]));
  } else if (command == "lock") {
    bag.Lock();
  } else if (command == "passcode.set" || command == "passcode.change") {
    if (secrets.empty() || secrets.size() > 2) {
      return BadArgs("passcode set needs the new passcode (and the old one)");
    }
    if (secrets.back().empty()) return BadArgs("the new passcode must not be empty");
    std::optional<SecureBytes> old;
    if (secrets.size() == 2) old = secrets[0];
    RETURN_IF_ERROR(bag.SetPasscode(old, secrets.back()));
  } else if (command == "passcode.remove") {
    if (secrets.size() != 1) return BadArgs("passcode remove needs the current passcode");
    RETURN_IF_ERROR(bag.RemovePasscode(secrets[0]));
    // Failing here is reported; the next start finishes the deletion.
    RETURN_IF_ERROR(enclave.DestroyPasscodeBoundKeys());
  }
  return bag.Describe();
}

}  // namespace

Result<nlohmann::json> RunAdmin(EnclaveImpl& enclave, SessionImpl& session, const std::string& command,
                                const nlohmann::json& args, const std::vector<SecureBytes>& secrets) {
  if (command == "status") return enclave.StatusReport();
  if (command == "config.get") {
    ASSIGN_OR_RETURN(std::string key, StringArg(args, "key"));
    ASSIGN_OR_RETURN(std::string value, enclave.config().Get(key));
    return nlohmann::json{{"key", key}, {"value", value}};
  }
  if (command == "config.set") {
    ASSIGN_OR_RETURN(std::string key, StringArg(args, "key"));
    ASSIGN_OR_RETURN(std::string value, StringArg(args, "value"));
    RETURN_IF_ERROR(enclave.SetConfig(key, value));
    return nlohmann::json{{"key", key}, {"value", value}};
  }
  if (command == "biometry") return Biometry(enclave, args);
  if (command == "unlock" || command == "lock" || command.rfind("passcode.", 0) == 0) {
    if (command != "unlock" && command != "lock" && command != "passcode.set" &&
        command != "passcode.change" && command != "passcode.remove") {
      return BadArgs("unknown command '" + command + "'");
    }
    return Passcode(enclave, command, secrets);
  }
  if (command == "doctor") return enclave.DoctorReport();
  if (command == "events") {
    ASSIGN_OR_RETURN(auto events, enclave.Events());
    nlohmann::json list = nlohmann::json::array();
    for (const auto& e : events) {
      list.push_back({{"time", e.time_ms},
                      {"kind", e.kind},
                      {"cause", e.cause},
                      {"kids", e.kids},
                      {"details", e.details}});
    }
    return nlohmann::json{{"events", list}};
  }
  if (command == "sysdiagnose") return enclave.Diagnostics();
  if (command == "inject") return InjectFault(enclave, session, args);
  if (command == "attest") return AttestKey(enclave, session, args);
  if (command.rfind("reports.", 0) == 0) return enclave.fleet().Admin(command, args);
  return BadArgs("unknown command '" + command + "'");
}

}  // namespace enclave::service
