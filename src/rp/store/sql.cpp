#include "rp/store/sql.h"

namespace enclave::rp::sql {

Error StoreError(const char* reason, std::string message) {
  Error e = OSStatusError(std::string_view(reason) == kUnavailable || std::string_view(reason) == kBusy
                              ? errsec::kNotAvailable
                              : errsec::kIO,
                          std::move(message));
  e.cause = reason;
  // The HTTP layer turns this into Retry-After on its 503.
  if (std::string_view(reason) == kUnavailable || std::string_view(reason) == kBusy)
    e.user_info["retry_after_seconds"] = 1;
  return e;
}

Result<Transaction> Transaction::Begin(Connection& c, bool write) {
  RETURN_IF_ERROR(c.Exec(c.dialect() == Dialect::kSqlite && write ? "BEGIN IMMEDIATE" : "BEGIN"));
  return Transaction(&c);
}

Transaction::~Transaction() {
  if (c_) (void)c_->Exec("ROLLBACK");
}

Status Transaction::Commit() {
  Connection* c = c_;
  c_ = nullptr;
  auto r = c->Exec("COMMIT");
  if (!r.ok()) {
    (void)c->Exec("ROLLBACK");
    return std::move(r).error();
  }
  return Ok();
}

int64_t Int(const Row& row, size_t i) {
  const auto* v = std::get_if<int64_t>(&row.at(i));
  return v ? *v : 0;
}

std::string Text(const Row& row, size_t i) {
  const auto* v = std::get_if<std::string>(&row.at(i));
  return v ? *v : std::string();
}

Bytes Blob(const Row& row, size_t i) {
  if (const auto* v = std::get_if<Bytes>(&row.at(i))) return *v;
  // SQLite hands back what was stored; text stored in a blob column still reads as its bytes.
  if (const auto* t = std::get_if<std::string>(&row.at(i))) return Bytes(t->begin(), t->end());
  return {};
}

bool IsNull(const Row& row, size_t i) { return std::holds_alternative<std::monostate>(row.at(i)); }

}  // namespace enclave::rp::sql
