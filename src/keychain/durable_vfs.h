// A SQLite VFS that passes every call to the default one and routes each write, sync, truncate
// and delete through the durable-write seam (common/durable_io.h), so fault-injection tests can
// fail or "crash" the keychain at its N-th durable operation.
#pragma once

namespace enclave::keychain {

// Registers the VFS once (not as the default) and returns its name for sqlite3_open_v2.
const char* DurableVfsName();

}  // namespace enclave::keychain
