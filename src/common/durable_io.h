// Durable writes and the fault-injection seam under them. Every write that must survive a crash
// (keybag files, config, state, the keychain's SQLite files through its VFS) passes through
// durable::Before(); a test arms a FaultPlan there to fail, or "crash" at, the N-th write, sync,
// rename or removal, then reopens the enclave from disk and checks it is consistent.
//
// "Crash" means: the N-th operation and every one after it are refused (EIO) until Disarm(), so
// the files hold exactly what a process killed at that point would have left.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"

namespace enclave::durable {

enum class Op { kWrite, kSync, kRename, kRemove, kTruncate };
std::string_view OpName(Op op);

struct FaultPlan {
  enum class Mode { kCount, kFail, kCrash };
  Mode mode = Mode::kCount;  // kCount: only count the operations
  int64_t at = 0;            // 1-based index of the operation that fails (kFail, kCrash)
};

// Arms a plan and resets the counter. Process-wide; for tests and `enclave debug inject`.
void Arm(FaultPlan plan);
void Disarm();
// Operations seen since Arm(); whether the fault fired; whether we are "crashed".
int64_t OpsSeen();
bool Fired();
bool Crashed();

// Called before each durable operation on `path`: 0 to go ahead, or the errno to fail with.
int Before(Op op, std::string_view path);

// Replaces `path` with `contents`: a temporary file in the same directory (mode `mode`), fsync,
// rename over `path`, fsync of the directory. A crash leaves the old file or the new one.
// Errors: errSecDiskFull (cause disk-full) on ENOSPC/EDQUOT, else errSecIO (database-io).
Status WriteFileAtomic(const std::filesystem::path& path, ByteView contents, unsigned mode = 0600);
// rename(2) through the seam, same errors.
Status Rename(const std::filesystem::path& from, const std::filesystem::path& to);
// The whole of `path`, with the same error mapping, so that a file written here reads back with
// the errors its writes have (a missing file: errSecIO, cause database-io).
Result<Bytes> ReadFile(const std::filesystem::path& path);

}  // namespace enclave::durable
