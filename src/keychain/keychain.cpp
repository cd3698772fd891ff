// The SQLite keychain: one connection per database file, every call serialised by a mutex.
// Single-item lookups (the signing path's) are remembered until anything commits to the
// database, from this connection or any other (keychain/commit_watch.h), so a repeated lookup
// costs no SQLite transaction and always answers what a read would.
#include "keychain/keychain.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <system_error>
#include <unordered_map>

#include "keychain/commit_watch.h"
#include "keychain/item_sql.h"
#include "keychain/schema.h"
#include "keychain/sqlite_handle.h"

namespace enclave::keychain {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Error NotFound() {
  return OSStatusError(errsec::kItemNotFound, "the specified item could not be found in the keychain")
      .WithCause("item-not-found");
}

void StampTimes(KeyItem& item) {
  if (item.created_ms == 0) item.created_ms = NowMs();
  if (item.modified_ms == 0) item.modified_ms = item.created_ms;
}

void BindAll(sql::Statement& stmt, const std::vector<sql::Value>& params, int first_index = 1) {
  for (size_t i = 0; i < params.size(); ++i) stmt.Bind(first_index + static_cast<int>(i), params[i]);
}

// SQLite creates the file with the umask's mode, and its -wal/-shm files copy the mode of the
// database file; creating the file ourselves first keeps all three owner-only.
Status CreateOwnerOnly(const std::filesystem::path& path) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return OSStatusError(errsec::kIO,
                         "cannot open keychain database " + path.string() + ": " + std::strerror(errno))
        .WithCause("database-io");
  }
  int rc = ::fchmod(fd, 0600);
  int saved_errno = errno;
  ::close(fd);
  if (rc != 0) {
    return OSStatusError(errsec::kIO, "cannot restrict keychain database " + path.string() +
                                          " to its owner: " + std::strerror(saved_errno))
        .WithCause("database-io");
  }
  return Ok();
}

// What a lookup's parameters are, as a cache key: the statement and each value with its type.
std::string LookupKey(const std::string& sql, const std::vector<sql::Value>& params) {
  std::string key = sql;
  for (const sql::Value& v : params) {
    key += '\0';
    key += static_cast<char>('0' + v.index());
    if (const auto* i = std::get_if<int64_t>(&v)) key += std::to_string(*i);
    if (const auto* t = std::get_if<std::string>(&v)) key += *t;
    if (const auto* b = std::get_if<Bytes>(&v)) key.append(b->begin(), b->end());
    key += '\0';
  }
  return key;
}

class SqliteKeychain final : public Keychain {
 public:
  // `path` is empty for an in-memory database, which no other connection can change.
  // The schema's preparation has made the -shm file by now.
  SqliteKeychain(sql::Database db, std::optional<sql::Database> journal, int schema_version,
                 const std::filesystem::path& path)
      : db_(std::move(db)),
        journal_(std::move(journal)),
        schema_version_(schema_version),
        in_memory_(path.empty()),
        watch_(in_memory_ ? nullptr : CommitWatch::Open(path)) {}

  Result<KeyItem> Add(KeyItem item) override {
    std::lock_guard lock(mu_);
    ++writes_;
    StampTimes(item);
    RETURN_IF_ERROR(item_sql::InsertItem(db_, item));
    item.persistent_id = db_.LastInsertRowId();
    return item;
  }

  Result<std::vector<KeyItem>> AddAll(std::vector<KeyItem> items) override {
    std::lock_guard lock(mu_);
    ++writes_;
    ASSIGN_OR_RETURN(sql::Transaction txn, sql::Transaction::Begin(db_));
    for (KeyItem& item : items) {
      StampTimes(item);
      RETURN_IF_ERROR(item_sql::InsertItem(db_, item));
      item.persistent_id = db_.LastInsertRowId();
    }
    RETURN_IF_ERROR(txn.Commit());
    return items;
  }

  Result<std::vector<KeyItem>> Find(const ItemQuery& query) const override {
    std::lock_guard lock(mu_);
    item_sql::Where where = item_sql::WhereOf(query);
    const std::string sql = item_sql::FindSql(query, where);
    // Lists (match_all) can be long and are not on a hot path: always read.
    std::string key;
    if (!query.match_all) {
      key = LookupKey(sql, where.params);
      if (const std::vector<KeyItem>* known = RememberedLocked(key)) {
        if (known->empty()) return NotFound();
        return *known;
      }
    }
    const Stamp before = StampLocked();
    ASSIGN_OR_RETURN(sql::Statement stmt, db_.Prepare(sql));
    BindAll(stmt, where.params);
    std::vector<KeyItem> items;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      items.push_back(item_sql::ReadItem(stmt));
    }
    if (!query.match_all) RememberLocked(std::move(key), before, items);
    if (items.empty()) return NotFound();
    return items;
  }

  Result<int> Update(const ItemQuery& query, const ItemUpdate& update) override {
    std::lock_guard lock(mu_);
    ++writes_;
    std::string sql = "UPDATE key_items SET modified_ms = ?";
    std::vector<sql::Value> params = {NowMs()};
    auto set = [&](const char* column, sql::Value value) {
      sql += std::string(", ") + column + " = ?";
      params.push_back(std::move(value));
    };
    if (update.label) set("label", *update.label);
    if (update.application_tag) set("application_tag", *update.application_tag);
    if (update.can_sign) set("can_sign", int64_t{*update.can_sign});
    if (update.can_derive) set("can_derive", int64_t{*update.can_derive});
    if (update.can_decrypt) set("can_decrypt", int64_t{*update.can_decrypt});
    if (update.ssh) set("ssh", int64_t{*update.ssh});
    item_sql::Where where = item_sql::WhereOf(query);
    sql += where.clause;
    params.insert(params.end(), where.params.begin(), where.params.end());
    // One statement is atomic: a collision on any matched row leaves every row unchanged.
    ASSIGN_OR_RETURN(sql::Statement stmt, db_.Prepare(sql));
    BindAll(stmt, params);
    RETURN_IF_ERROR(stmt.Run());
    int changed = db_.Changes();
    if (changed == 0) return NotFound();
    return changed;
  }

  Result<int> Delete(const ItemQuery& query) override {
    std::lock_guard lock(mu_);
    ++writes_;
    item_sql::Where where = item_sql::WhereOf(query);
    ASSIGN_OR_RETURN(sql::Statement stmt, db_.Prepare("DELETE FROM key_items" + where.clause));
    BindAll(stmt, where.params);
    RETURN_IF_ERROR(stmt.Run());
    int deleted = db_.Changes();
    if (deleted == 0) return NotFound();
    return deleted;
  }

  Result<KeyItem> Replace(int64_t old_persistent_id, KeyItem replacement) override {
    std::lock_guard lock(mu_);
    ++writes_;
    ASSIGN_OR_RETURN(sql::Transaction txn, sql::Transaction::Begin(db_));
    {
      ASSIGN_OR_RETURN(sql::Statement stmt, db_.Prepare("DELETE FROM key_items WHERE persistent_id = ?"));
      stmt.BindInt64(1, old_persistent_id);
      RETURN_IF_ERROR(stmt.Run());
    }
    if (db_.Changes() == 0) return NotFound();
    StampTimes(replacement);
    RETURN_IF_ERROR(item_sql::InsertItem(db_, replacement));
    replacement.persistent_id = db_.LastInsertRowId();
    RETURN_IF_ERROR(txn.Commit());
    return replacement;
  }

  Result<int64_t> Count() const override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(sql::Statement stmt, db_.Prepare("SELECT count(*) FROM key_items"));
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row ? stmt.ColumnInt64(0) : int64_t{0};
  }

  Status AppendEvents(const std::vector<Event>& events) override {
    // On a connection of its own where there is one: a journal commit waits for its fsync, and
    // lookups and signatures need not wait with it (WAL readers never wait for a writer).
    std::unique_lock lock(journal_ ? journal_mu_ : mu_);
    sql::Database& db = journal_ ? *journal_ : db_;
    ASSIGN_OR_RETURN(sql::Transaction txn, sql::Transaction::Begin(db));
    for (const Event& event : events) {
      // From the statement cache; reset when it goes out of scope.
      ASSIGN_OR_RETURN(
          sql::Statement stmt,
          db.Prepare("INSERT INTO events (time_ms, kind, cause, kids, details) VALUES (?, ?, ?, ?, ?)"));
      stmt.BindInt64(1, event.time_ms != 0 ? event.time_ms : NowMs());
      stmt.BindText(2, event.kind);
      stmt.BindText(3, event.cause);
      stmt.BindText(4, nlohmann::json(event.kids).dump());
      stmt.BindText(5, event.details.dump());
      RETURN_IF_ERROR(stmt.Run());
    }
    return txn.Commit();
  }

  Result<std::vector<Event>> Events() const override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(
        sql::Statement stmt,
        db_.Prepare("SELECT time_ms, kind, cause, kids, details FROM events ORDER BY time_ms, id"));
    std::vector<Event> events;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      Event event;
      event.time_ms = stmt.ColumnInt64(0);
      event.kind = stmt.ColumnText(1);
      event.cause = stmt.ColumnText(2);
      auto kids = nlohmann::json::parse(stmt.ColumnText(3), nullptr, /*allow_exceptions=*/false);
      auto details = nlohmann::json::parse(stmt.ColumnText(4), nullptr, /*allow_exceptions=*/false);
      if (!kids.is_array() || details.is_discarded()) {
        return OSStatusError(errsec::kDecode, "keychain database: event journal entry is not valid JSON")
            .WithCause("database-corrupt");
      }
      for (const auto& kid : kids) {
        if (kid.is_string()) event.kids.push_back(kid.get<std::string>());
      }
      event.details = std::move(details);
      events.push_back(std::move(event));
    }
    return events;
  }

  Status CheckIntegrity() const override {
    std::lock_guard lock(mu_);
    // integrity_check reports at most N problems; a handful is enough to name the damage.
    ASSIGN_OR_RETURN(sql::Statement stmt, db_.Prepare("PRAGMA integrity_check(10)"));
    std::vector<std::string> findings;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      findings.push_back(stmt.ColumnText(0));
    }
    if (findings.size() == 1 && findings[0] == "ok") return Ok();
    std::string joined;
    for (const std::string& f : findings) joined += (joined.empty() ? "" : "; ") + f;
    return OSStatusError(errsec::kDecode, "database integrity check failed: " + joined)
        .WithCause("database-corrupt")
        .WithInfo("findings", findings);
  }

  int SchemaVersion() const override { return schema_version_; }

  Status SetSealedBlobForTesting(int64_t persistent_id, const Bytes& blob) override {
    std::lock_guard lock(mu_);
    ++writes_;
    ASSIGN_OR_RETURN(sql::Statement stmt,
                     db_.Prepare("UPDATE key_items SET sealed_blob = ? WHERE persistent_id = ?"));
    stmt.BindBlob(1, blob);
    stmt.BindInt64(2, persistent_id);
    RETURN_IF_ERROR(stmt.Run());
    if (db_.Changes() == 0) return NotFound();
    return Ok();
  }

  Status ExecForTesting(const std::string& sql) override {
    std::lock_guard lock(mu_);
    ++writes_;
    return db_.Exec(sql);
  }

  Result<std::string> ExplainFindForTesting(const ItemQuery& query) const override {
    std::lock_guard lock(mu_);
    item_sql::Where where = item_sql::WhereOf(query);
    ASSIGN_OR_RETURN(sql::Statement stmt,
                     db_.PrepareUncached("EXPLAIN QUERY PLAN " + item_sql::FindSql(query, where)));
    BindAll(stmt, where.params);
    std::string plan;
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      plan += stmt.ColumnText(3) + "\n";  // columns: id, parent, notused, detail
    }
    return plan;
  }

 private:
  // When a lookup was read: this connection's write count and the WAL index header.
  struct Stamp {
    uint64_t writes = 0;
    CommitWatch::Mark mark{};
    bool operator==(const Stamp&) const = default;
  };

  Stamp StampLocked() const {
    Stamp stamp;
    stamp.writes = writes_;
    if (watch_) stamp.mark = watch_->Now();
    return stamp;
  }

  // The items a lookup found (empty: none), if nothing has committed since they were read.
  const std::vector<KeyItem>* RememberedLocked(const std::string& key) const {
    if (remembered_.empty()) return nullptr;
    if (!(StampLocked() == remembered_at_)) {
      remembered_.clear();
      return nullptr;
    }
    auto it = remembered_.find(key);
    return it == remembered_.end() ? nullptr : &it->second;
  }

  void RememberLocked(std::string key, const Stamp& read_after, const std::vector<KeyItem>& items) const {
    // Only where every commit can be seen: in memory, or with the -shm mapped.
    if (!in_memory_ && !watch_) return;
    // Everything remembered shares one stamp, the oldest: a commit since forgets it all.
    if (remembered_.empty() || !(remembered_at_ == read_after) || remembered_.size() >= kRememberedLookups) {
      remembered_.clear();
      remembered_at_ = read_after;
    }
    remembered_.emplace(std::move(key), items);
  }

  static constexpr size_t kRememberedLookups = 256;

  mutable std::mutex mu_;
  mutable sql::Database db_;  // its statement cache changes even in const lookups
  std::mutex journal_mu_;
  std::optional<sql::Database> journal_;  // the event journal's writes (database files only)
  int schema_version_;
  bool in_memory_;
  uint64_t writes_ = 0;
  std::unique_ptr<CommitWatch> watch_;  // declared after db_: unmapped before the connection closes
  mutable std::unordered_map<std::string, std::vector<KeyItem>> remembered_;
  mutable Stamp remembered_at_;
};

Result<std::unique_ptr<Keychain>> OpenAt(const std::string& target, bool in_memory) {
  constexpr int kFlags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
  ASSIGN_OR_RETURN(sql::Database db, sql::Database::Open(target, kFlags));
  ASSIGN_OR_RETURN(int version, schema::Prepare(db, in_memory));
  std::optional<sql::Database> journal;
  if (!in_memory) {
    ASSIGN_OR_RETURN(sql::Database second, sql::Database::Open(target, kFlags));
    RETURN_IF_ERROR(schema::Prepare(second, in_memory));
    journal = std::move(second);
  }
  return std::unique_ptr<Keychain>(
      std::make_unique<SqliteKeychain>(std::move(db), std::move(journal), version, in_memory ? "" : target));
}

}  // namespace

Result<std::unique_ptr<Keychain>> Keychain::Open(const std::filesystem::path& path) {
  RETURN_IF_ERROR(CreateOwnerOnly(path));
  return OpenAt(path.string(), /*in_memory=*/false);
}

Result<std::unique_ptr<Keychain>> Keychain::OpenInMemory() { return OpenAt(":memory:", /*in_memory=*/true); }

Result<std::vector<KeyItem>> Keychain::AddAll(std::vector<KeyItem> items) {
  (void)items;
  return OSStatusError(errsec::kUnimplemented, "this keychain cannot add items in bulk")
      .WithCause("unimplemented");
}

Result<std::string> Keychain::ExplainFindForTesting(const ItemQuery& query) const {
  (void)query;
  return OSStatusError(errsec::kUnimplemented, "this keychain has no query plan").WithCause("unimplemented");
}

}  // namespace enclave::keychain
