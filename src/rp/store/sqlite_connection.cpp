#include "rp/store/sqlite_connection.h"

#include <sqlite3.h>

#include <unordered_map>

namespace enclave::rp::sql {
namespace {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using DbHandle = std::unique_ptr<sqlite3, DbCloser>;
using StmtHandle = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

Error SqliteError(sqlite3* db, int rc, std::string_view what) {
  std::string message = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return StoreError(kConflict, std::move(message));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return StoreError(kBusy, std::move(message));
    default:
      return StoreError(kFailed, std::move(message));
  }
}

// Resets the statement however Exec leaves it: a statement left mid-step holds a read snapshot.
struct Resetter {
  sqlite3_stmt* s;
  ~Resetter() {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
};

class SqliteConnection final : public Connection {
 public:
  explicit SqliteConnection(DbHandle db) : db_(std::move(db)) {}
  Dialect dialect() const override { return Dialect::kSqlite; }
  bool Healthy() override { return true; }

  Status Script(std::string_view sql) override {
    char* err = nullptr;
    int rc = sqlite3_exec(db_.get(), std::string(sql).c_str(), nullptr, nullptr, &err);
    std::string message = err ? err : "";
    sqlite3_free(err);
    if (rc != SQLITE_OK) return SqliteError(nullptr, rc, "migration: " + message);
    return Ok();
  }

  Result<Rows> Exec(std::string_view sql, const std::vector<Value>& params) override {
    ASSIGN_OR_RETURN(sqlite3_stmt * stmt, Prepare(sql));
    Resetter reset{stmt};
    for (size_t i = 0; i < params.size(); ++i) {
      std::string name = "$" + std::to_string(i + 1);
      int at = sqlite3_bind_parameter_index(stmt, name.c_str());
      if (at == 0) continue;  // a parameter this statement does not use
      int rc = std::visit(
          [&](const auto& v) -> int {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::monostate>) {
              return sqlite3_bind_null(stmt, at);
            } else if constexpr (std::is_same_v<T, int64_t>) {
              return sqlite3_bind_int64(stmt, at, v);
            } else if constexpr (std::is_same_v<T, std::string>) {
              return sqlite3_bind_text(stmt, at, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
            } else {
              // A zero-length blob must still be a blob, not NULL: bind_zeroblob(0) gives that.
              if (v.empty()) return sqlite3_bind_zeroblob(stmt, at, 0);
              return sqlite3_bind_blob(stmt, at, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
            }
          },
          params[i]);
      if (rc != SQLITE_OK) return SqliteError(db_.get(), rc, "bind");
    }
    Rows out;
    for (;;) {
      int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return SqliteError(db_.get(), rc, "statement");
      Row row;
      int n = sqlite3_column_count(stmt);
      for (int c = 0; c < n; ++c) {
        switch (sqlite3_column_type(stmt, c)) {
          case SQLITE_NULL:
            row.emplace_back(std::monostate{});
            break;
          case SQLITE_INTEGER:
            row.emplace_back(static_cast<int64_t>(sqlite3_column_int64(stmt, c)));
            break;
          case SQLITE_BLOB: {
            const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt, c));
            row.emplace_back(Bytes(p, p + sqlite3_column_bytes(stmt, c)));
            break;
          }
          default: {
            const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
            row.emplace_back(std::string(p ? p : "", static_cast<size_t>(sqlite3_column_bytes(stmt, c))));
          }
        }
      }
      out.rows.push_back(std::move(row));
    }
    out.changed = sqlite3_changes64(db_.get());
    return out;
  }

 private:
  Result<sqlite3_stmt*> Prepare(std::string_view sql) {
    std::string key(sql);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second.get();
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v3(db_.get(), key.data(), static_cast<int>(key.size()),
                                SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_.get(), rc, "prepare");
    return cache_.emplace(key, StmtHandle(raw)).first->second.get();
  }

  // Statements are finalized before the connection closes (members are destroyed in reverse).
  DbHandle db_;
  std::unordered_map<std::string, StmtHandle> cache_;
};

}  // namespace

Result<std::unique_ptr<Connection>> OpenSqlite(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  DbHandle db(raw);
  if (rc != SQLITE_OK) return SqliteError(db.get(), rc, "cannot open " + path);
  sqlite3_busy_timeout(db.get(), 5000);
  std::unique_ptr<Connection> conn = std::make_unique<SqliteConnection>(std::move(db));
  // WAL: readers never wait for the writer. synchronous=FULL: in WAL mode NORMAL may lose the last
  // commits on power loss, and an acknowledged registration must survive that.
  RETURN_IF_ERROR(conn->Script("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
  auto mode = conn->Exec("PRAGMA journal_mode");
  if (!mode.ok()) return std::move(mode).error();
  if (mode->rows.empty() || Text(mode->rows[0], 0) != "wal")
    return StoreError(kFailed, "cannot put " + path + " in WAL mode");
  return conn;
}

}  // namespace enclave::rp::sql
