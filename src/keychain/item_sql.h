// How key items and queries map to the key_items table: the column list, the row codec and the
// WHERE clause built from an ItemQuery.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "keychain/keychain.h"
#include "keychain/sqlite_handle.h"

namespace enclave::keychain::item_sql {

// "SELECT <every column> FROM key_items"; ReadItem decodes a row of it.
const std::string& SelectItems();
KeyItem ReadItem(const sql::Statement& row);

// Inserts `item` (persistent_id is assigned by SQLite and ignored here).
// errSecDuplicateItem when the identity attributes collide with an existing item.
Status InsertItem(sql::Database& db, const KeyItem& item);

// " WHERE a = ? AND b = ?" (empty when the query sets nothing) with its parameters in order.
struct Where {
  std::string clause;
  std::vector<sql::Value> params;
};
Where WhereOf(const ItemQuery& query);

// The SELECT for Find: oldest first, at most one row unless match_all.
std::string FindSql(const ItemQuery& query, const Where& where);

}  // namespace enclave::keychain::item_sql
