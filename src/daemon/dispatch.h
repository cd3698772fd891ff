// One table from a wire request to the enclave::Api method that serves it (as ssh-agent's
// handler table): unknown requests get an errSecParam reply, never a crash.
#pragma once

#include "daemon/request_log.h"
#include "enclave.pb.h"
#include "service/api.h"

namespace enclave::daemon {

// Serves an Api request (not watch/shutdown/ping, which belong to the server) and fills the log
// entry's kids, admin command and error. Never throws.
wire::Response Dispatch(Api& session, const wire::Request& request, RequestLogEntry* log);

}  // namespace enclave::daemon
