// The keychain: key items in one SQLite database (WAL) per enclave home, found again by queries
// on their attributes. It stores what the service gives it and interprets nothing: the key blob
// is already sealed, and the access control is an opaque serialised policy.
// Errors are OSStatus values: -25299 duplicate, -25300 not found, -36 I/O, -26275 corrupt db,
// -34019 (errSecUpgradePending) for a file written by a newer enclave.
// Thread-safe: one connection, every call serialised.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"

namespace enclave::keychain {

struct KeyItem {
  int64_t persistent_id = 0;  // assigned by Add
  std::string kid;
  std::string label;
  Bytes application_label;
  Bytes application_tag;
  std::string access_group;
  std::string token;                  // "soft" | "tpm2"
  std::string key_class = "private";  // "private" | "public"
  std::string key_type = "ec";        // kSecAttrKeyTypeECSECPrimeRandom
  int key_size = 256;
  bool permanent = true;
  bool can_sign = true;
  bool can_derive = true;
  bool can_decrypt = true;
  int64_t created_ms = 0;  // unix epoch milliseconds; set by Add when 0
  int64_t modified_ms = 0;
  std::string accessible;      // protection class platform code: "aku", "ck", "akpu", ...
  std::string access_control;  // serialised policy (canonical JSON), bound into the blob's aad
  Bytes public_key_x963;
  Bytes sealed_blob;  // the token blob sealed under the class key
  bool ssh = false;   // offered by the ssh agent; not bound into the blob (the user toggles it)
};

// Every set field must match exactly. An empty query matches every item.
struct ItemQuery {
  std::optional<int64_t> persistent_id;
  std::optional<std::string> kid;
  std::optional<std::string> label;
  std::optional<Bytes> application_label;
  std::optional<Bytes> application_tag;
  std::optional<std::string> access_group;
  std::optional<std::string> token;
  std::optional<std::string> key_class;
  std::optional<std::string> accessible;
  std::optional<bool> ssh;
  bool match_all = false;  // false: at most one item (kSecMatchLimitOne), the oldest
};

// Mutable attributes only; identity, blob and policy never change after creation.
struct ItemUpdate {
  std::optional<std::string> label;
  std::optional<Bytes> application_tag;
  std::optional<bool> can_sign;
  std::optional<bool> can_derive;
  std::optional<bool> can_decrypt;
  std::optional<bool> ssh;
};

struct Event {
  int64_t time_ms = 0;  // set to now by AppendEvents when 0
  std::string kind;     // "biometry-reset", "enrollment-changed", "passcode-removed", "keybag-repaired", ...
  std::string cause;    // catalog cause id
  std::vector<std::string> kids;
  nlohmann::json details = nlohmann::json::object();
};

class Keychain {
 public:
  virtual ~Keychain() = default;
  // Opens or creates `path`, running schema migrations. OpenInMemory is for non-permanent keys.
  static Result<std::unique_ptr<Keychain>> Open(const std::filesystem::path& path);
  static Result<std::unique_ptr<Keychain>> OpenInMemory();

  // errSecDuplicateItem when class, application label, application tag, type, size, access
  // group and token all equal an existing item's; nothing is written then.
  virtual Result<KeyItem> Add(KeyItem item) = 0;
  // Adds every item in one transaction (imports, bulk creation): all are added or none.
  virtual Result<std::vector<KeyItem>> AddAll(std::vector<KeyItem> items);
  // errSecItemNotFound when nothing matches.
  virtual Result<std::vector<KeyItem>> Find(const ItemQuery& query) const = 0;
  // Applies `update` to every match (count returned); -25300 when nothing matches,
  // -25299 when the change would collide with another item (and nothing changes).
  virtual Result<int> Update(const ItemQuery& query, const ItemUpdate& update) = 0;
  // Deletes every match; -25300 when nothing matches.
  virtual Result<int> Delete(const ItemQuery& query) = 0;
  // Atomically deletes `old_persistent_id` and adds `replacement`: either both happen or neither.
  virtual Result<KeyItem> Replace(int64_t old_persistent_id, KeyItem replacement) = 0;
  virtual Result<int64_t> Count() const = 0;

  // The event journal.
  // Appends every event in one transaction (all or none).
  virtual Status AppendEvents(const std::vector<Event>& events) = 0;
  Status AppendEvent(const Event& event) { return AppendEvents({event}); }
  virtual Result<std::vector<Event>> Events() const = 0;

  // PRAGMA integrity_check; errSecDecode with the findings when damaged.
  virtual Status CheckIntegrity() const = 0;
  virtual int SchemaVersion() const = 0;

  // Fault injection: overwrite the sealed blob of one item (bit flips / removal).
  virtual Status SetSealedBlobForTesting(int64_t persistent_id, const Bytes& blob) = 0;
  // Fault injection: raw SQL on the database (e.g. editing a policy by hand).
  virtual Status ExecForTesting(const std::string& sql) = 0;
  // The query plan SQLite picks for Find(query), one line per step (EXPLAIN QUERY PLAN), so a
  // test can prove a lookup is served by an index.
  virtual Result<std::string> ExplainFindForTesting(const ItemQuery& query) const;
};

}  // namespace enclave::keychain
