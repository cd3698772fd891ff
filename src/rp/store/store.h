// The relying party's durable state: users, challenges, credentials and the event journal, on
// SQLite (one node) or PostgreSQL (any number of nodes). Every method is one unit of work that is
// committed (durable) when it returns; challenges are single use by the database itself.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "rp/store/fleet_store.h"

namespace enclave::rp {

enum class CredentialState { kActive, kNeedsStepUp, kDead, kReplaced, kDeleted };
const char* StateName(CredentialState s);  // active | needs-step-up | dead | replaced | deleted
std::optional<CredentialState> ParseState(std::string_view s);

enum class CeremonyKind { kRegistration, kAuthentication };

// What an option call promised, kept until its answer comes back (at any node).
struct ChallengeRecord {
  Bytes challenge;
  CeremonyKind kind = CeremonyKind::kAuthentication;
  std::string user;
  Bytes user_handle;
  bool user_verification_required = true;
  int64_t issued_ms = 0;
  int64_t expires_ms = 0;
};

struct CredentialRecord {
  Bytes id;
  std::string user;
  Bytes public_key;  // COSE_Key
  int64_t sign_count = 0;
  bool backup_eligible = false;
  bool backup_state = false;
  CredentialState state = CredentialState::kActive;
  std::string cause;  // why it is dead, replaced or deleted
  Bytes device_key;   // COSE_Key of the enclave home's device key; empty when none was proven
  Bytes aaguid;
  std::string attestation;  // none | self | basic
  std::string transports;   // JSON array text, as the client sent it
  Bytes replaces;           // the credential this one re-bound
  Bytes replaced_by;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t last_used_ms = 0;
};

struct Event {
  std::string user;
  Bytes credential_id;
  std::string kind;    // registered | rebound | replaced | needs-step-up | approved | dead | deleted | ...
  std::string detail;  // JSON object text
  int64_t time_ms = 0;
};

enum class Redeemed { kOk, kUnknown, kReused };
struct Redemption {
  Redeemed outcome = Redeemed::kUnknown;
  std::optional<ChallengeRecord> challenge;  // with kOk
};

// A registration as the relying party decided it, inside the store's transaction.
struct RegistrationPlan {
  CredentialRecord credential;
  std::optional<Bytes> replace;  // an active or dead credential of the same user becomes replaced
  std::vector<Event> events;
};
// Given the user's credentials (read under the user's lock), the plan or a refusal.
using DecideRegistration = std::function<Result<RegistrationPlan>(const std::vector<CredentialRecord>&)>;

struct Transitioned {
  bool changed = false;
  std::optional<CredentialRecord> record;  // after the change; the unchanged record otherwise
};

class Store {
 public:
  virtual ~Store() = default;
  virtual std::string Kind() const = 0;  // sqlite | postgresql

  // The user's handle, created from `proposed` on first use (a race keeps the first one).
  virtual Result<Bytes> UserHandle(const std::string& user, ByteView proposed, int64_t now_ms) = 0;
  virtual Result<std::optional<Bytes>> FindUserHandle(const std::string& user) = 0;
  virtual Status PutChallenge(const ChallengeRecord& c) = 0;
  // Consumes the challenge (one DELETE … RETURNING): of concurrent redemptions exactly one gets
  // kOk; later ones kReused while its tombstone is kept, kUnknown for one never issued.
  virtual Result<Redemption> RedeemChallenge(ByteView challenge, int64_t now_ms) = 0;
  // Forgets challenges that expired before `challenges_before` and tombstones older than
  // `tombstones_before`.
  virtual Status Purge(int64_t challenges_before, int64_t tombstones_before) = 0;

  virtual Result<std::optional<CredentialRecord>> GetCredential(ByteView id) = 0;
  virtual Result<std::vector<CredentialRecord>> UserCredentials(const std::string& user) = 0;
  // Under the user's lock: reads the user's credentials, asks `decide`, then inserts the new
  // credential (an id that exists anywhere: reason credential-exists), marks `replace` replaced
  // (only if still active or dead and the user's), appends the events, commits.
  // The user is created with `user_handle` if the options call's row is gone (deleted by hand).
  virtual Result<RegistrationPlan> Register(const std::string& user, ByteView user_handle, int64_t now_ms,
                                            const DecideRegistration& decide) = 0;
  // An assertion's bookkeeping, only if the credential is still active and the counter rule holds
  // (new_count == 0 == stored, or new_count > stored): false when either no longer holds.
  virtual Result<bool> RecordUse(ByteView id, int64_t new_count, bool backup_state, int64_t now_ms) = 0;
  // Moves the credential from one of `from` to `to` with `cause`, journaling `event`.
  virtual Result<Transitioned> Transition(ByteView id, const std::vector<CredentialState>& from,
                                          CredentialState to, const std::string& cause,
                                          const Event& event) = 0;
  virtual Result<std::vector<Event>> Events(const std::string& user) = 0;
  // A round trip to the database.
  virtual Status Ping() = 0;
  // The fleet view's tables, on the same database and connections.
  virtual FleetStore& Fleet() = 0;
};

// `sqlite:PATH` or `postgresql://…` / `postgres://…`. Applies the migrations; refuses a schema
// newer than this build knows (reason store-schema-newer).
Result<std::unique_ptr<Store>> OpenStore(const std::string& url);

}  // namespace enclave::rp
