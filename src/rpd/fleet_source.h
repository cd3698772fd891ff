// The dashboard's FleetSource over the Backend's fleet calls: the pages are rendered from exactly
// the documents GET /v1/fleet/summary, /issues and /issues/{id} answer.
#pragma once

#include <memory>

#include "rpd/backend.h"
#include "rpd/dashboard.h"

namespace enclave::rpd {

std::shared_ptr<dashboard::FleetSource> FleetSourceOf(std::shared_ptr<Backend> backend);

}  // namespace enclave::rpd
