// The keychain's on-disk schema and how a database file is brought up to it.
#pragma once

#include <cstdint>

#include "common/result.h"
#include "keychain/sqlite_handle.h"

namespace enclave::keychain::schema {

// errSecUpgradePending. The phone platform reports it while its keychain schema cannot be
// migrated yet; we report it for a file written by a newer enclave, whose schema this build
// cannot read or migrate. It is not errSecDecode: the file is healthy and the keys are intact,
// and the remedy is to run the newer enclave again, not to re-enroll.
inline constexpr int64_t kErrSecUpgradePending = -34019;

// The version this build writes; the highest migration it knows.
int CurrentVersion();

// Sets the connection's pragmas (WAL, foreign keys, synchronous, busy timeout) and applies the
// pending migrations in one transaction. Returns the schema version now in the file.
// A file from a newer enclave is refused with kErrSecUpgradePending, cause
// "database-schema-newer", and left untouched.
Result<int> Prepare(sql::Database& db, bool in_memory);

}  // namespace enclave::keychain::schema
