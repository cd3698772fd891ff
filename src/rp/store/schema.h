// The relying party's one schema, as numbered migrations applied in order at start (both
// dialects; only column types and the event id differ). Private to src/rp/store.
#pragma once

#include <string>

#include "common/result.h"
#include "rp/store/sql.h"

namespace enclave::rp::sql {

inline constexpr int64_t kSchemaVersion = 5;

// Brings the database to kSchemaVersion in one transaction (on PostgreSQL under an advisory lock,
// so nodes starting together migrate once); refuses a newer version with store-schema-newer.
// `target` below kSchemaVersion stops earlier: tests build a store as an older release left it.
Status Migrate(Connection& c, int64_t target = kSchemaVersion);

// The statements that fill fleet_distinct from fleet_activity and fleet_affected (migration 4;
// a test checks that they agree with the counts ingest keeps).
std::string DistinctBackfill();

}  // namespace enclave::rp::sql
