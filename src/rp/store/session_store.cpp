#include "rp/store/session_store.h"

#include "rp/store/pool.h"
#include "rp/store/postgres_connection.h"
#include "rp/store/schema.h"
#include "rp/store/sqlite_connection.h"

namespace enclave::rp {
namespace {

class SqlSessionStore final : public SessionStore {
 public:
  SqlSessionStore(sql::Pool::Factory factory, size_t connections) : pool_(std::move(factory), connections) {}

  Status Create(const std::string& id_hash, int64_t now_ms, int64_t expires_ms) override {
    ASSIGN_OR_RETURN(auto c, pool_.Acquire());
    ASSIGN_OR_RETURN(auto tx, sql::Transaction::Begin(*c, /*write=*/true));
    RETURN_IF_ERROR(c->Exec("DELETE FROM dashboard_sessions WHERE expires_ms <= $1", {now_ms}));
    RETURN_IF_ERROR(
        c->Exec("INSERT INTO dashboard_sessions (id_hash, created_ms, expires_ms) VALUES ($1, $2, $3)",
                {id_hash, now_ms, expires_ms}));
    return tx.Commit();
  }

  Result<bool> Valid(const std::string& id_hash, int64_t now_ms) override {
    ASSIGN_OR_RETURN(auto c, pool_.Acquire());
    ASSIGN_OR_RETURN(auto rows,
                     c->Exec("SELECT 1 FROM dashboard_sessions WHERE id_hash = $1 AND expires_ms > $2",
                             {id_hash, now_ms}));
    return !rows.rows.empty();
  }

  Status End(const std::string& id_hash) override {
    ASSIGN_OR_RETURN(auto c, pool_.Acquire());
    RETURN_IF_ERROR(c->Exec("DELETE FROM dashboard_sessions WHERE id_hash = $1", {id_hash}));
    return Ok();
  }

 private:
  sql::Pool pool_;
};

}  // namespace

Result<std::unique_ptr<SessionStore>> OpenSessionStore(const std::string& url) {
  sql::Pool::Factory factory;
  // Few connections: the dashboard is read by a handful of people, and on SQLite every connection
  // is one more writer waiting on the file's lock.
  size_t connections = 1;
  if (url.rfind("sqlite:", 0) == 0) {
    std::string path = url.substr(7);
    if (path.empty()) return sql::StoreError(sql::kFailed, "sqlite: needs a path");
    factory = [path] { return sql::OpenSqlite(path); };
  } else if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    connections = 2;
    factory = [url] { return sql::OpenPostgres(url); };
  } else {
    return sql::StoreError(sql::kFailed, "the store URL must start with sqlite: or postgresql://");
  }
  {
    ASSIGN_OR_RETURN(auto first, factory());
    RETURN_IF_ERROR(sql::Migrate(*first));
  }
  return std::unique_ptr<SessionStore>(std::make_unique<SqlSessionStore>(std::move(factory), connections));
}

}  // namespace enclave::rp
