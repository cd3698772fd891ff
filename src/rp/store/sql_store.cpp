// Store over sql::Connection: the same statements on SQLite and PostgreSQL.
#include <string>

#include "rp/store/fleet_sql.h"
#include "rp/store/pool.h"
#include "rp/store/postgres_connection.h"
#include "rp/store/schema.h"
#include "rp/store/sqlite_connection.h"
#include "rp/store/store.h"

namespace enclave::rp {
namespace {

using sql::Blob;
using sql::Int;
using sql::Text;
using sql::Value;

constexpr char kCredentialColumns[] =
    "id, user_name, public_key, sign_count, backup_eligible, backup_state, state, cause, device_key, aaguid, "
    "attestation, transports, replaces, replaced_by, created_ms, updated_ms, last_used_ms";

CredentialRecord ToCredential(const sql::Row& r) {
  CredentialRecord c;
  c.id = Blob(r, 0);
  c.user = Text(r, 1);
  c.public_key = Blob(r, 2);
  c.sign_count = Int(r, 3);
  c.backup_eligible = Int(r, 4) != 0;
  c.backup_state = Int(r, 5) != 0;
  // A state this build does not know reads as deleted: unusable, never active by mistake.
  c.state = ParseState(Text(r, 6)).value_or(CredentialState::kDeleted);
  c.cause = Text(r, 7);
  c.device_key = Blob(r, 8);
  c.aaguid = Blob(r, 9);
  c.attestation = Text(r, 10);
  c.transports = Text(r, 11);
  c.replaces = Blob(r, 12);
  c.replaced_by = Blob(r, 13);
  c.created_ms = Int(r, 14);
  c.updated_ms = Int(r, 15);
  c.last_used_ms = Int(r, 16);
  return c;
}

std::string StateList(const std::vector<CredentialState>& states) {
  std::string out;
  for (CredentialState s : states) out += std::string(out.empty() ? "'" : ", '") + StateName(s) + "'";
  return out.empty() ? "''" : out;
}

Bytes Copy(ByteView v) { return Bytes(v.begin(), v.end()); }

class SqlStore final : public Store {
 public:
  SqlStore(std::string kind, sql::Pool::Factory factory, size_t connections)
      : kind_(std::move(kind)), pool_(std::move(factory), connections), fleet_(sql::MakeFleetStore(pool_)) {}

  std::string Kind() const override { return kind_; }

  Result<Bytes> UserHandle(const std::string& user, ByteView proposed, int64_t now_ms) override {
    ASSIGN_OR_RETURN(auto c, pool_.Acquire());
    RETURN_IF_ERROR(c->Exec(
        "INSERT INTO users (name, handle, created_ms) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        {user, Copy(proposed), now_ms}));
    ASSIGN_OR_RETURN(auto rows, c->Exec("SELECT handle FROM users WHERE name = $1", {user}));
    if (rows.rows.empty()) return sql::StoreError(sql::kFailed, "the user row vanished");
    return Blob(rows.rows[0], 0);
  }

  Result<std::optional<Bytes>> FindUserHandle(const std::string& user) override {
    ASSIGN_OR_RETURN(auto c, pool_.Acquire());
    ASSIGN_OR_RETURN(auto rows, c->Exec("SELECT handle FROM users WHERE name = $1", {user}));
    if (rows.rows.empty()) return std::optional<Bytes>();
    return std::optional<Bytes>(Blob(rows.rows[0], 0));
  }

  Status PutChallenge(const ChallengeRecord& ch) override {
    ASSIGN_OR_RETURN(auto c, pool_.Acquire());
    RETURN_IF_ERROR(c->Exec(
        "INSERT INTO challenges (challenge, kind, user_name, user_handle, uv_required, issued_ms, "
        "expires_ms) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        {ch.challenge,
         std::string(ch.kind == CeremonyKind::kRegistration ? "registration" : "authentication"), ch.user,
         ch.user_handle, int64_t{ch.user_verification_required}, ch.issued_ms, ch.expires_ms}));
    return Ok();
  }

  Result<Redemption> RedeemChallenge(ByteView challenge, int64_t now_ms) override {
    ASSIGN_OR_RETURN(auto c, pool_.Acquire());
    ASSIGN_OR_RETURN(auto tx, sql::Transaction::Begin(*c, /*write=*/true));
    // The one statement that decides: of concurrent redemptions, one deletes the row and the
    // others (waiting on its row lock, or on SQLite's write lock) find nothing to delete.
    ASSIGN_OR_RETURN(auto rows,
                     c->Exec("DELETE FROM challenges WHERE challenge = $1 "
                             "RETURNING kind, user_name, user_handle, uv_required, issued_ms, expires_ms",
                             {Copy(challenge)}));
    Redemption out;
    if (!rows.rows.empty()) {
      const sql::Row& r = rows.rows[0];
      ChallengeRecord ch;
      ch.challenge = Copy(challenge);
      ch.kind = Text(r, 0) == "registration" ? CeremonyKind::kRegistration : CeremonyKind::kAuthentication;
      ch.user = Text(r, 1);
      ch.user_handle = Blob(r, 2);
      ch.user_verification_required = Int(r, 3) != 0;
      ch.issued_ms = Int(r, 4);
      ch.expires_ms = Int(r, 5);
      RETURN_IF_ERROR(
          c->Exec("INSERT INTO spent_challenges (challenge, spent_ms) VALUES ($1, $2) ON CONFLICT "
                  "(challenge) DO NOTHING",
                  {Copy(challenge), now_ms}));
      out.outcome = Redeemed::kOk;
      out.challenge = std::move(ch);
    } else {
      ASSIGN_OR_RETURN(auto spent,
                       c->Exec("SELECT 1 FROM spent_challenges WHERE challenge = $1", {Copy(challenge)}));
      out.outcome = spent.rows.empty() ? Redeemed::kUnknown : Redeemed::kReused;
    }
    RETURN_IF_ERROR(tx.Commit());
    return out;
  }

  Status Purge(int64_t challenges_before, int64_t tombstones_before) override {
    ASSIGN_OR_RETURN(auto c, pool_.Acquire());
    RETURN_IF_ERROR(c->Exec("DELETE FROM challenges WHERE expires_ms < $1", {challenges_before}));
    RETURN_IF_ERROR(c->Exec("DELETE FROM spent_challenges WHERE spent_ms < $1", {tombstones_before}));
    return Ok();
  }

  Result<std::optional<CredentialRecord>> GetCredential(ByteView id) override {
    ASSIGN_OR_RETURN(auto c, pool_.Acquire());
    ASSIGN_OR_RETURN(
        auto rows,
        c->Exec(std::string("SELECT ") + kCredentialColumns + " FROM credentials WHERE id = $1", {Copy(id)}));
    if (rows.rows.empty()) return std::optional<CredentialRecord>();
    return std::optional<CredentialRecord>(ToCredential(rows.rows[0]));
  }

  Result<std::vector<CredentialRecord>> UserCredentials(const std::string& user) override {
    ASSIGN_OR_RETURN(auto c, pool_.Acquire());
    return ReadUserCredentials(*c, user);
  }

  Result<RegistrationPlan> Register(const std::string& user, ByteView user_handle, int64_t now_ms,
                                    const DecideRegistration& decide) override {
    ASSIGN_OR_RETURN(auto c, pool_.Acquire());
    ASSIGN_OR_RETURN(auto tx, sql::Transaction::Begin(*c, /*write=*/true));
    RETURN_IF_ERROR(c->Exec(
        "INSERT INTO users (name, handle, created_ms) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        {user, Copy(user_handle), now_ms}));
    // The user's lock: two registrations of one user are decided one after the other (SQLite's
    // BEGIN IMMEDIATE already serializes every writer).
    if (c->dialect() == sql::Dialect::kPostgres)
      RETURN_IF_ERROR(c->Exec("SELECT name FROM users WHERE name = $1 FOR UPDATE", {user}));
    ASSIGN_OR_RETURN(auto existing, ReadUserCredentials(*c, user));
    ASSIGN_OR_RETURN(RegistrationPlan plan, decide(existing));
    const CredentialRecord& n = plan.credential;
    auto inserted =
        c->Exec(std::string("INSERT INTO credentials (") + kCredentialColumns +
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
                {n.id, user, n.public_key, n.sign_count, int64_t{n.backup_eligible}, int64_t{n.backup_state},
                 std::string(StateName(n.state)), n.cause, n.device_key, n.aaguid, n.attestation,
                 n.transports, n.replaces, n.replaced_by, n.created_ms, n.updated_ms, n.last_used_ms});
    if (!inserted.ok()) {
      if (inserted.error().cause == sql::kConflict) {
        return OSStatusError(errsec::kDuplicateItem, "a credential with this id is already registered")
            .WithCause("credential-exists");
      }
      return std::move(inserted).error();
    }
    if (plan.replace) {
      ASSIGN_OR_RETURN(auto replaced,
                       c->Exec("UPDATE credentials SET state = 'replaced', replaced_by = $2, updated_ms = $3 "
                               "WHERE id = $1 AND user_name = $4 AND state IN ('active', 'dead')",
                               {*plan.replace, n.id, now_ms, user}));
      if (replaced.changed != 1)
        return sql::StoreError(sql::kBusy, "the replaced credential changed meanwhile");
    }
    for (const Event& e : plan.events) RETURN_IF_ERROR(AppendEvent(*c, e));
    RETURN_IF_ERROR(tx.Commit());
    return plan;
  }

  Result<bool> RecordUse(ByteView id, int64_t new_count, bool backup_state, int64_t now_ms) override {
    ASSIGN_OR_RETURN(auto c, pool_.Acquire());
    // The counter rule in the statement itself, so two racing assertions cannot both move it.
    ASSIGN_OR_RETURN(auto rows,
                     c->Exec("UPDATE credentials SET sign_count = $2, backup_state = $3, last_used_ms = $4 "
                             "WHERE id = $1 AND state = 'active' AND "
                             "(sign_count < $2 OR ($2 = 0 AND sign_count = 0))",
                             {Copy(id), new_count, int64_t{backup_state}, now_ms}));
    return rows.changed == 1;
  }

  Result<Transitioned> Transition(ByteView id, const std::vector<CredentialState>& from, CredentialState to,
                                  const std::string& cause, const Event& event) override {
    ASSIGN_OR_RETURN(auto c, pool_.Acquire());
    ASSIGN_OR_RETURN(auto tx, sql::Transaction::Begin(*c, /*write=*/true));
    ASSIGN_OR_RETURN(auto rows,
                     c->Exec("UPDATE credentials SET state = $2, cause = $3, updated_ms = $4 WHERE id = $1 "
                             "AND state IN (" +
                                 StateList(from) + ") RETURNING " + kCredentialColumns,
                             {Copy(id), std::string(StateName(to)), cause, event.time_ms}));
    Transitioned out;
    if (!rows.rows.empty()) {
      out.changed = true;
      out.record = ToCredential(rows.rows[0]);
      RETURN_IF_ERROR(AppendEvent(*c, event));
    } else {
      ASSIGN_OR_RETURN(
          auto now, c->Exec(std::string("SELECT ") + kCredentialColumns + " FROM credentials WHERE id = $1",
                            {Copy(id)}));
      if (!now.rows.empty()) out.record = ToCredential(now.rows[0]);
    }
    RETURN_IF_ERROR(tx.Commit());
    return out;
  }

  Result<std::vector<Event>> Events(const std::string& user) override {
    ASSIGN_OR_RETURN(auto c, pool_.Acquire());
    ASSIGN_OR_RETURN(auto rows, c->Exec("SELECT time_ms, user_name, credential_id, kind, detail FROM events "
                                        "WHERE user_name = $1 ORDER BY id",
                                        {user}));
    std::vector<Event> out;
    for (const auto& r : rows.rows)
      out.push_back(Event{Text(r, 1), Blob(r, 2), Text(r, 3), Text(r, 4), Int(r, 0)});
    return out;
  }

  FleetStore& Fleet() override { return *fleet_; }

  Status Ping() override {
    ASSIGN_OR_RETURN(auto c, pool_.Acquire());
    RETURN_IF_ERROR(c->Exec("SELECT 1"));
    return Ok();
  }

 private:
  static Result<std::vector<CredentialRecord>> ReadUserCredentials(sql::Connection& c,
                                                                   const std::string& user) {
    ASSIGN_OR_RETURN(auto rows, c.Exec(std::string("SELECT ") + kCredentialColumns +
                                           " FROM credentials WHERE user_name = $1 ORDER BY created_ms, id",
                                       {user}));
    std::vector<CredentialRecord> out;
    for (const auto& r : rows.rows) out.push_back(ToCredential(r));
    return out;
  }

  static Status AppendEvent(sql::Connection& c, const Event& e) {
    RETURN_IF_ERROR(
        c.Exec("INSERT INTO events (time_ms, user_name, credential_id, kind, detail) "
               "VALUES ($1, $2, $3, $4, $5)",
               {e.time_ms, e.user, e.credential_id, e.kind, e.detail.empty() ? "{}" : e.detail}));
    return Ok();
  }

  std::string kind_;
  sql::Pool pool_;
  std::unique_ptr<FleetStore> fleet_;
};

}  // namespace

const char* StateName(CredentialState s) {
  switch (s) {
    case CredentialState::kActive:
      return "active";
    case CredentialState::kNeedsStepUp:
      return "needs-step-up";
    case CredentialState::kDead:
      return "dead";
    case CredentialState::kReplaced:
      return "replaced";
    case CredentialState::kDeleted:
      return "deleted";
  }
  return "deleted";
}

std::optional<CredentialState> ParseState(std::string_view s) {
  for (auto st : {CredentialState::kActive, CredentialState::kNeedsStepUp, CredentialState::kDead,
                  CredentialState::kReplaced, CredentialState::kDeleted}) {
    if (s == StateName(st)) return st;
  }
  return std::nullopt;
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& url) {
  sql::Pool::Factory factory;
  std::string kind;
  size_t connections = 1;
  if (url.rfind("sqlite:", 0) == 0) {
    std::string path = url.substr(7);
    if (path.empty()) return sql::StoreError(sql::kFailed, "sqlite: needs a path");
    kind = "sqlite";
    // One connection: SQLite has one writer at a time anyway, and a single connection makes every
    // unit of work wait its turn in the pool instead of spinning on the busy handler.
    factory = [path] { return sql::OpenSqlite(path); };
  } else if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    kind = "postgresql";
    connections = 8;
    factory = [url] { return sql::OpenPostgres(url); };
  } else {
    return sql::StoreError(sql::kFailed, "the store URL must start with sqlite: or postgresql://");
  }
  {
    ASSIGN_OR_RETURN(auto first, factory());
    RETURN_IF_ERROR(sql::Migrate(*first));
  }
  return std::unique_ptr<Store>(std::make_unique<SqlStore>(kind, std::move(factory), connections));
}

}  // namespace enclave::rp
