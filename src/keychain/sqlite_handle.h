// Thin RAII layer over the SQLite C API for the keychain: one owned connection, statements
// cached per SQL text, transactions that roll back unless committed, and SQLite result codes
// turned into OSStatus errors with a catalog cause.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>

#include "common/bytes.h"
#include "common/result.h"

namespace enclave::keychain::sql {

struct ConnectionCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using ConnectionHandle = std::unique_ptr<sqlite3, ConnectionCloser>;
using StatementHandle = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// A value bound to a `?` parameter.
using Value = std::variant<int64_t, std::string, Bytes>;

// Maps a SQLite result code to the OSStatus the keychain reports:
// corrupt / not-a-database → errSecDecode (database-corrupt), I/O, full, busy, can't open,
// read-only → errSecIO (database-io), a UNIQUE violation → errSecDuplicateItem
// (duplicate-item), anything else → errSecInternal. `what` says what was being done.
Error SqliteError(sqlite3* db, int rc, std::string_view what);

// One execution of a cached prepared statement. Resetting on destruction matters: a statement
// left mid-step would hold a WAL read snapshot open and block checkpoints.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(sqlite3* db, StatementHandle owned) : db_(db), stmt_(owned.get()), owned_(std::move(owned)) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  // Parameters are 1-based as in SQLite. A bind failure is reported by the next Step().
  void Bind(int index, const Value& value);
  void BindInt64(int index, int64_t value);
  void BindText(int index, std::string_view value);
  // An empty blob binds as a zero-length BLOB, never NULL (NULLs would defeat UNIQUE).
  void BindBlob(int index, ByteView value);

  // true: a row is available; false: the statement finished.
  Result<bool> Step();
  // Steps to completion, ignoring rows.
  Status Run();

  int64_t ColumnInt64(int column) const;
  std::string ColumnText(int column) const;
  Bytes ColumnBlob(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;     // owned by the Database's cache, or by owned_
  StatementHandle owned_;  // set for statements prepared outside the cache
  int bind_rc_ = SQLITE_OK;
};

// One connection. Not thread-safe by itself: the keychain serialises calls with a mutex.
class Database {
 public:
  static Result<Database> Open(const std::string& path, int flags);

  Database(Database&&) = default;
  Database& operator=(Database&&) = default;

  // Prepares once per distinct SQL text and reuses it afterwards.
  Result<Statement> Prepare(const std::string& sql);
  // Prepares a statement used once. For EXPLAIN, whose program never revalidates the schema, so
  // a cached copy would describe indexes that no longer exist.
  Result<Statement> PrepareUncached(const std::string& sql);
  // Runs one or more statements without results (schema, pragmas).
  Status Exec(const std::string& sql);
  // Runs a statement returning a single value (e.g. a pragma) and gives it as text.
  Result<std::string> QueryText(const std::string& sql);

  int64_t LastInsertRowId() const { return sqlite3_last_insert_rowid(db_.get()); }
  int Changes() const { return sqlite3_changes(db_.get()); }
  sqlite3* raw() const { return db_.get(); }

 private:
  explicit Database(ConnectionHandle db) : db_(std::move(db)) {}

  ConnectionHandle db_;  // declared first so the cached statements are finalised before close
  std::unordered_map<std::string, StatementHandle> cache_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back on destruction unless committed. IMMEDIATE takes the
// write lock up front so a transaction never fails half-way with SQLITE_BUSY on upgrade.
class Transaction {
 public:
  static Result<Transaction> Begin(Database& db);
  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  Status Commit();

 private:
  explicit Transaction(Database* db) : db_(db) {}
  Database* db_;  // null once committed or rolled back
};

}  // namespace enclave::keychain::sql
