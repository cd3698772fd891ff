// The one SQL layer both stores share: a connection (SQLite or libpq) runs statements written
// once, with $1..$N parameters (SQLite reads "$1" as a named parameter), and returns typed values.
// Private to src/rp/store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace enclave::rp::sql {

// NULL, an integer, text, or bytes (BLOB / bytea).
using Value = std::variant<std::monostate, int64_t, std::string, Bytes>;
using Row = std::vector<Value>;

struct Rows {
  std::vector<Row> rows;
  int64_t changed = 0;  // rows an INSERT/UPDATE/DELETE touched
};

enum class Dialect { kSqlite, kPostgres };

// Store failures, as the relying party reports them (docs/rp.md).
inline constexpr char kUnavailable[] = "store-unavailable";  // 503: no connection; retry
inline constexpr char kBusy[] = "store-busy";                // 503: lock or serialization conflict
inline constexpr char kConflict[] = "store-conflict";        // a unique key exists (mapped by the caller)
inline constexpr char kFailed[] = "store-failed";            // 500: anything else
inline constexpr char kSchemaNewer[] = "store-schema-newer";

Error StoreError(const char* reason, std::string message);

class Connection {
 public:
  virtual ~Connection() = default;
  virtual Dialect dialect() const = 0;
  virtual Result<Rows> Exec(std::string_view sql, const std::vector<Value>& params = {}) = 0;
  // Several statements without parameters (migrations).
  virtual Status Script(std::string_view sql) = 0;
  // Whether the connection is still worth keeping (not broken by a failure or a server restart).
  virtual bool Healthy() = 0;
};

// A transaction that rolls back unless committed; a write transaction on SQLite takes the write
// lock at once (BEGIN IMMEDIATE), so two writers never deadlock upgrading their read locks.
class Transaction {
 public:
  static Result<Transaction> Begin(Connection& c, bool write);
  Transaction(Transaction&& o) noexcept : c_(o.c_) { o.c_ = nullptr; }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status Commit();

 private:
  explicit Transaction(Connection* c) : c_(c) {}
  Connection* c_;
};

// Accessors for a row's columns: integers, text and bytes (NULL reads as 0 / "" / empty).
int64_t Int(const Row& row, size_t i);
std::string Text(const Row& row, size_t i);
Bytes Blob(const Row& row, size_t i);
bool IsNull(const Row& row, size_t i);

}  // namespace enclave::rp::sql
