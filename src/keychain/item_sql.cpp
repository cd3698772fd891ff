#include "keychain/item_sql.h"

namespace enclave::keychain::item_sql {
namespace {

// Column order shared by SELECT (ReadItem) and INSERT (InsertItem).
constexpr char kColumns[] =
    "persistent_id, kid, label, application_label, application_tag, access_group, token, key_class, "
    "key_type, key_size, permanent, can_sign, can_derive, can_decrypt, created_ms, modified_ms, "
    "accessible, access_control, public_key_x963, sealed_blob, ssh";

void AddCondition(Where& where, const char* column, sql::Value value) {
  where.clause += where.params.empty() ? " WHERE " : " AND ";
  where.clause += column;
  where.clause += " = ?";
  where.params.push_back(std::move(value));
}

}  // namespace

const std::string& SelectItems() {
  static const std::string sql = std::string("SELECT ") + kColumns + " FROM key_items";
  return sql;
}

KeyItem ReadItem(const sql::Statement& row) {
  KeyItem item;
  item.persistent_id = row.ColumnInt64(0);
  item.kid = row.ColumnText(1);
  item.label = row.ColumnText(2);
  item.application_label = row.ColumnBlob(3);
  item.application_tag = row.ColumnBlob(4);
  item.access_group = row.ColumnText(5);
  item.token = row.ColumnText(6);
  item.key_class = row.ColumnText(7);
  item.key_type = row.ColumnText(8);
  item.key_size = static_cast<int>(row.ColumnInt64(9));
  item.permanent = row.ColumnInt64(10) != 0;
  item.can_sign = row.ColumnInt64(11) != 0;
  item.can_derive = row.ColumnInt64(12) != 0;
  item.can_decrypt = row.ColumnInt64(13) != 0;
  item.created_ms = row.ColumnInt64(14);
  item.modified_ms = row.ColumnInt64(15);
  item.accessible = row.ColumnText(16);
  item.access_control = row.ColumnText(17);
  item.public_key_x963 = row.ColumnBlob(18);
  item.sealed_blob = row.ColumnBlob(19);
  item.ssh = row.ColumnInt64(20) != 0;
  return item;
}

Status InsertItem(sql::Database& db, const KeyItem& item) {
  static const std::string sql = std::string("INSERT INTO key_items (") + kColumns +
                                 ") VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
  ASSIGN_OR_RETURN(sql::Statement stmt, db.Prepare(sql));
  stmt.BindText(1, item.kid);
  stmt.BindText(2, item.label);
  stmt.BindBlob(3, item.application_label);
  stmt.BindBlob(4, item.application_tag);
  stmt.BindText(5, item.access_group);
  stmt.BindText(6, item.token);
  stmt.BindText(7, item.key_class);
  stmt.BindText(8, item.key_type);
  stmt.BindInt64(9, item.key_size);
  stmt.BindInt64(10, item.permanent ? 1 : 0);
  stmt.BindInt64(11, item.can_sign ? 1 : 0);
  stmt.BindInt64(12, item.can_derive ? 1 : 0);
  stmt.BindInt64(13, item.can_decrypt ? 1 : 0);
  stmt.BindInt64(14, item.created_ms);
  stmt.BindInt64(15, item.modified_ms);
  stmt.BindText(16, item.accessible);
  stmt.BindText(17, item.access_control);
  stmt.BindBlob(18, item.public_key_x963);
  stmt.BindBlob(19, item.sealed_blob);
  stmt.BindInt64(20, item.ssh ? 1 : 0);
  return stmt.Run();
}

Where WhereOf(const ItemQuery& query) {
  Where where;
  if (query.persistent_id) AddCondition(where, "persistent_id", *query.persistent_id);
  if (query.kid) AddCondition(where, "kid", *query.kid);
  if (query.label) AddCondition(where, "label", *query.label);
  if (query.application_label) AddCondition(where, "application_label", *query.application_label);
  if (query.application_tag) AddCondition(where, "application_tag", *query.application_tag);
  if (query.access_group) AddCondition(where, "access_group", *query.access_group);
  if (query.token) AddCondition(where, "token", *query.token);
  if (query.key_class) AddCondition(where, "key_class", *query.key_class);
  if (query.accessible) AddCondition(where, "accessible", *query.accessible);
  if (query.ssh) AddCondition(where, "ssh", int64_t{*query.ssh});
  return where;
}

std::string FindSql(const ItemQuery& query, const Where& where) {
  // Equal keys in a secondary index are ordered by rowid, so this ORDER BY costs no sort when
  // an index serves the lookup.
  return SelectItems() + where.clause + " ORDER BY persistent_id" + (query.match_all ? "" : " LIMIT 1");
}

}  // namespace enclave::keychain::item_sql
