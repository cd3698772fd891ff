// The whole enclave as an in-process object: keychain, keybag, tokens, access control and
// diagnosis over one enclave home. The daemon owns one Enclave and opens a Session per client
// connection; tests drive it directly.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "service/api.h"

namespace enclave::service {

// Who is on the other end of a session. The daemon fills it from SO_PEERCRED; it is an input to
// access checks (only the home's owner is served today).
struct Peer {
  uint32_t uid = 0;
  uint32_t pid = 0;
  std::string executable;
};

struct EnclaveOptions {
  std::filesystem::path home;  // $ENCLAVE_HOME
  bool debug = false;          // allows fault injection ("enclave debug inject")
  // Lock the keybag when the desktop session locks (logind's LockedHint). The daemon sets it.
  bool follow_session_lock = false;
  // Whom fprintd verifies unless the configuration names someone (empty: $USER). The system
  // daemon sets the calling user.
  std::string fprintd_user;
  // Called when fleet reports were queued (service/fleet_reports.h), from a worker thread: the
  // daemon starts a sender process. Empty: reports wait for `enclave report send`.
  std::function<void()> on_reports_queued;
};

class Enclave;

// One client's view: non-permanent keys and auth contexts live as long as the session.
class Session : public Api {
 public:
  ~Session() override = default;

  // For front ends served inside enclaved (the ssh agent), which have no CLI to report to.
  // Whether the first key matching `key` could be used now, without prompting; the error's
  // permanence says whether it ever can again.
  virtual Status CheckKeyUsable(const KeyQuery& key) = 0;
  // Appends to the event journal (`enclave events`). Details name who asked, never data.
  virtual void RecordEvent(const std::string& kind, const std::string& cause,
                           const std::vector<std::string>& kids, nlohmann::json details) = 0;
  // As RecordEvent, but only the first time `kind` is recorded for `kid` (over the journal's
  // life); returns whether it was recorded now.
  virtual bool RecordEventOnce(const std::string& kind, const std::string& cause, const std::string& kid,
                               nlohmann::json details) = 0;
};

class Enclave {
 public:
  virtual ~Enclave() = default;
  // Opens (creating on first use) the enclave in options.home: config, keybag, keychain.
  static Result<std::unique_ptr<Enclave>> Open(const EnclaveOptions& options);
  virtual std::unique_ptr<Session> OpenSession(const Peer& peer) = 0;
  // Event subscription for watch requests: called for each new journal event (JSON).
  using EventListener = std::function<void(const nlohmann::json& event)>;
  virtual int Subscribe(EventListener listener) = 0;
  virtual void Unsubscribe(int subscription) = 0;
  virtual const std::filesystem::path& home() const = 0;
};

}  // namespace enclave::service
