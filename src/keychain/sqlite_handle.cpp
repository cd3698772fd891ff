#include "keychain/sqlite_handle.h"

#include <utility>

#include "keychain/durable_vfs.h"

namespace enclave::keychain::sql {

Error SqliteError(sqlite3* db, int rc, std::string_view what) {
  std::string detail = sqlite3_errstr(rc);
  // The connection's message is more specific, but only when it belongs to this rc.
  if (db != nullptr && sqlite3_extended_errcode(db) == rc) detail = sqlite3_errmsg(db);
  std::string description = "keychain database: " + std::string(what) + ": " + detail;
  Error error;
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      error = OSStatusError(errsec::kDecode, std::move(description)).WithCause("database-corrupt");
      break;
    case SQLITE_FULL:
      error = OSStatusError(errsec::kDiskFull, std::move(description)).WithCause("disk-full");
      break;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_PROTOCOL:
      error = OSStatusError(errsec::kIO, std::move(description)).WithCause("database-io");
      break;
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        error = OSStatusError(errsec::kDuplicateItem, "the item already exists in the keychain")
                    .WithCause("duplicate-item");
        break;
      }
      [[fallthrough]];
    default:
      error = OSStatusError(errsec::kInternal, std::move(description)).WithCause("internal");
  }
  return std::move(error).WithInfo("sqlite_result", rc);
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      owned_(std::move(other.owned_)),
      bind_rc_(other.bind_rc_) {}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void Statement::Bind(int index, const Value& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) {
    BindInt64(index, *i);
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    BindText(index, *s);
  } else {
    BindBlob(index, std::get<Bytes>(value));
  }
}

void Statement::BindInt64(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

void Statement::BindText(int index, std::string_view value) {
  // A zero-length text with a null pointer would bind NULL; "" is never null.
  const char* data = value.empty() ? "" : value.data();
  int rc = sqlite3_bind_text64(stmt_, index, data, value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

void Statement::BindBlob(int index, ByteView value) {
  int rc = value.empty() ? sqlite3_bind_zeroblob(stmt_, index, 0)
                         : sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

Result<bool> Statement::Step() {
  if (bind_rc_ != SQLITE_OK) return SqliteError(db_, bind_rc_, "binding a parameter");
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_, sqlite3_extended_errcode(db_), "executing a statement");
}

Status Statement::Run() {
  for (;;) {
    ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Ok();
  }
}

int64_t Statement::ColumnInt64(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::ColumnText(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (text == nullptr) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

Bytes Statement::ColumnBlob(int column) const {
  const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, column));
  if (data == nullptr) return {};
  return Bytes(data, data + sqlite3_column_bytes(stmt_, column));
}

Result<Database> Database::Open(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  // Files go through the durable-write seam; ":memory:" needs no VFS.
  const char* vfs = path == ":memory:" ? nullptr : DurableVfsName();
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_EXRESCODE, vfs);
  // sqlite3_open_v2 hands back a connection even on failure; it must still be closed.
  ConnectionHandle db(raw);
  if (rc != SQLITE_OK) return SqliteError(db.get(), rc, "opening the database");
  sqlite3_extended_result_codes(db.get(), 1);
  return Database(std::move(db));
}

Result<Statement> Database::Prepare(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v3(db_.get(), sql.c_str(), static_cast<int>(sql.size() + 1),
                                SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    StatementHandle stmt(raw);
    if (rc != SQLITE_OK) return SqliteError(db_.get(), rc, "preparing a statement");
    it = cache_.emplace(sql, std::move(stmt)).first;
  }
  return Statement(db_.get(), it->second.get());
}

Result<Statement> Database::PrepareUncached(const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_.get(), sql.c_str(), static_cast<int>(sql.size() + 1), &raw, nullptr);
  StatementHandle stmt(raw);
  if (rc != SQLITE_OK) return SqliteError(db_.get(), rc, "preparing a statement");
  return Statement(db_.get(), std::move(stmt));
}

Status Database::Exec(const std::string& sql) {
  int rc = sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db_.get(), sqlite3_extended_errcode(db_.get()), "executing SQL");
  return Ok();
}

Result<std::string> Database::QueryText(const std::string& sql) {
  ASSIGN_OR_RETURN(Statement stmt, Prepare(sql));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::string();
  return stmt.ColumnText(0);
}

Result<Transaction> Transaction::Begin(Database& db) {
  RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  return Transaction(&db);
}

Transaction::~Transaction() {
  if (db_ == nullptr) return;
  // A failed rollback leaves SQLite to roll back when the connection closes; nothing to add.
  (void)db_->Exec("ROLLBACK");
}

Status Transaction::Commit() {
  Database* db = std::exchange(db_, nullptr);
  Status status = db->Exec("COMMIT");
  if (!status.ok()) (void)db->Exec("ROLLBACK");
  return status;
}

}  // namespace enclave::keychain::sql
