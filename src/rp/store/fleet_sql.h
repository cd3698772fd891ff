// FleetStore over the relying party's connection pool (same statements on both dialects; on
// PostgreSQL the raw reports live in day partitions created on first use). Private to
// src/rp/store.
#pragma once

#include <memory>

#include "rp/store/fleet_store.h"
#include "rp/store/pool.h"

namespace enclave::rp::sql {

std::unique_ptr<FleetStore> MakeFleetStore(Pool& pool);

// Upper bound of rows in one multi-row statement: SQLite looks parameters up by name (linear),
// PostgreSQL takes up to 65535 per statement.
size_t RowsPerStatement(Dialect d, size_t columns);

// "head VALUES ($1..$k), ($k+1..) tail" over `rows` (all of `columns` values), in chunks; the
// rows each chunk returns are appended to the result.
Result<std::vector<Row>> InsertRows(Connection& c, const std::string& head, size_t columns,
                                    const std::vector<Row>& rows, const std::string& tail);

}  // namespace enclave::rp::sql
