// The SQLite connection (sqlite:PATH): WAL, synchronous=FULL (a commit is on disk before the
// registration is acknowledged), statements cached per SQL text. Private to src/rp/store.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "rp/store/sql.h"

namespace enclave::rp::sql {

Result<std::unique_ptr<Connection>> OpenSqlite(const std::string& path);

}  // namespace enclave::rp::sql
