// The PostgreSQL connection (libpq, a postgresql:// URL). Private to src/rp/store.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "rp/store/sql.h"

namespace enclave::rp::sql {

// Connects at once; a server that does not answer fails within a few seconds (connect_timeout
// 3 s unless the URL says otherwise) with store-unavailable.
Result<std::unique_ptr<Connection>> OpenPostgres(const std::string& url);

}  // namespace enclave::rp::sql
