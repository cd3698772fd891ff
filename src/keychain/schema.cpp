#include "keychain/schema.h"

#include <string>
#include <vector>

namespace enclave::keychain::schema {
namespace {

// Ordered migrations: entry i takes the file from user_version i to i + 1. Released entries are
// never edited; a schema change is a new entry appended here.
const std::vector<std::string>& Migrations() {
  static const std::vector<std::string> migrations = {
      // v1: key items and the event journal.
      R"sql(
        CREATE TABLE key_items (
          persistent_id INTEGER PRIMARY KEY AUTOINCREMENT,
          kid TEXT NOT NULL,
          label TEXT NOT NULL,
          application_label BLOB NOT NULL,
          application_tag BLOB NOT NULL,
          access_group TEXT NOT NULL,
          token TEXT NOT NULL,
          key_class TEXT NOT NULL,
          key_type TEXT NOT NULL,
          key_size INTEGER NOT NULL,
          permanent INTEGER NOT NULL,
          can_sign INTEGER NOT NULL,
          can_derive INTEGER NOT NULL,
          can_decrypt INTEGER NOT NULL,
          created_ms INTEGER NOT NULL,
          modified_ms INTEGER NOT NULL,
          accessible TEXT NOT NULL,
          access_control TEXT NOT NULL,
          public_key_x963 BLOB NOT NULL,
          sealed_blob BLOB NOT NULL
        );
        CREATE UNIQUE INDEX key_items_identity ON key_items (
          key_class, application_label, application_tag, key_type, key_size, access_group, token);
        CREATE INDEX key_items_by_application_label ON key_items (application_label);
        CREATE INDEX key_items_by_label ON key_items (label);
        CREATE INDEX key_items_by_kid ON key_items (kid);

        CREATE TABLE events (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          time_ms INTEGER NOT NULL,
          kind TEXT NOT NULL,
          cause TEXT NOT NULL,
          kids TEXT NOT NULL,
          details TEXT NOT NULL
        );
        CREATE INDEX events_by_time ON events (time_ms, id);
      )sql",
      // v2: which keys the ssh agent offers (off for every existing key).
      R"sql(
        ALTER TABLE key_items ADD COLUMN ssh INTEGER NOT NULL DEFAULT 0;
      )sql",
  };
  return migrations;
}

Result<int> ReadVersion(sql::Database& db) {
  ASSIGN_OR_RETURN(sql::Statement stmt, db.Prepare("PRAGMA user_version"));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? static_cast<int>(stmt.ColumnInt64(0)) : 0;
}

Error NewerSchemaError(int found) {
  return OSStatusError(kErrSecUpgradePending, "the keychain database has schema version " +
                                                  std::to_string(found) + ", newer than the " +
                                                  std::to_string(CurrentVersion()) +
                                                  " this enclave knows; run the newer enclave that wrote it")
      .WithCause("database-schema-newer")
      .WithInfo("schema_version", found)
      .WithInfo("supported_schema_version", CurrentVersion());
}

Status ConfigureConnection(sql::Database& db, bool in_memory) {
  sqlite3* raw = db.raw();
  // A database file is input we did not write this run: refuse the SQL features a crafted or
  // damaged file could turn against us (schema tricks, functions called from its triggers).
  sqlite3_db_config(raw, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(raw, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_busy_timeout(raw, 5000);
  // synchronous=FULL: with WAL, NORMAL can lose the last commits on power loss. For a keychain
  // that loss is a key whose public half was already registered with a relying party and whose
  // private half is gone, so every commit is made durable. Writes are rare (create, update,
  // delete), so the extra fsync per commit costs nothing users notice.
  // secure_delete: a deleted key's sealed blob is overwritten rather than left in free pages.
  RETURN_IF_ERROR(db.Exec("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA secure_delete = ON"));
  if (in_memory) return Ok();
  ASSIGN_OR_RETURN(std::string mode, db.QueryText("PRAGMA journal_mode = WAL"));
  if (mode != "wal") {
    return OSStatusError(errsec::kIO,
                         "keychain database: cannot switch to WAL journal mode (got '" + mode + "')")
        .WithCause("database-io");
  }
  return Ok();
}

}  // namespace

int CurrentVersion() { return static_cast<int>(Migrations().size()); }

Result<int> Prepare(sql::Database& db, bool in_memory) {
  RETURN_IF_ERROR(ConfigureConnection(db, in_memory));
  ASSIGN_OR_RETURN(int version, ReadVersion(db));
  if (version > CurrentVersion()) return NewerSchemaError(version);
  if (version == CurrentVersion()) return version;

  // All pending steps in one transaction: a crash or error leaves the file at its old version,
  // never half-migrated. The version is re-read inside the write lock in case another process
  // migrated the file meanwhile.
  ASSIGN_OR_RETURN(sql::Transaction txn, sql::Transaction::Begin(db));
  ASSIGN_OR_RETURN(version, ReadVersion(db));
  if (version > CurrentVersion()) return NewerSchemaError(version);
  for (int step = version; step < CurrentVersion(); ++step) {
    RETURN_IF_ERROR(db.Exec(Migrations()[step]));
  }
  RETURN_IF_ERROR(db.Exec("PRAGMA user_version = " + std::to_string(CurrentVersion())));
  RETURN_IF_ERROR(txn.Commit());
  return CurrentVersion();
}

}  // namespace enclave::keychain::schema
