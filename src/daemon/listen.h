// Taking a daemon's place in the file system: binding the Unix socket (clearing a stale one),
// the folders it lives in, socket activation, and the system daemon's drop to its own user.
// Failures that no retry can fix (a path too long for a socket, a home that is a file, a
// read-only or forbidden folder) carry permanent causes with the path named.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "common/result.h"
#include "daemon/unique_fd.h"

namespace enclave::daemon {

// errSecNotAvailable with `cause` ("daemon-unavailable" when transient).
Error ListenError(const std::string& what, const std::string& cause = "daemon-unavailable");
// The permanent cause for a failed system call's errno: permission-denied (EACCES, EPERM),
// home-unusable (ENOTDIR, EROFS, EEXIST, ENOENT...), disk-full (ENOSPC).
std::string CauseOfErrno(int err);

// Creates `dir` (and its parents) with `mode` when missing; a `dir` that is not a directory is
// home-unusable.
Status EnsureDirectory(const std::filesystem::path& dir, mode_t mode);

// Binds and listens on `path` with `mode`. A live listener there: errSecNotAvailable with
// user_info.already_running; a stale socket is removed first (or the error names it).
// With a `staging` path (same folder, a name no longer than `path`'s), the socket is bound there
// instead and `path` is only checked: PublishSocket moves it into place once the daemon serves,
// so that no client reaches a daemon that is still starting (and may never serve).
Result<UniqueFd> BindSocket(const std::filesystem::path& path, mode_t mode,
                            const std::filesystem::path& staging = {});
// Moves a socket bound at `staging` to `path` (atomically replacing a stale one there).
Status PublishSocket(const std::filesystem::path& staging, const std::filesystem::path& path);
// Where BindSocket stages `path`: a dot file of the same length beside it.
std::filesystem::path StagingPathOf(const std::filesystem::path& path);

// Closes every descriptor from `first` up: a daemon keeps none of its starter's.
void CloseDescriptorsFrom(int first);

// Moves a listening socket to one of the highest descriptor numbers (`slot` 0 is the highest),
// so that it is closed before every connection when the daemon is killed. The kernel releases a
// dead process's files from the highest number down: a listener numbered below its connections
// still took new clients for a moment after the connections had been reset, and a client that
// resent at once landed in a backlog about to be dropped (once in about 250 kills under 8
// concurrent lookups). Keeps `fd` where it is when no high number is free.
UniqueFd MoveToTopDescriptor(UniqueFd fd, int slot);

// The system daemon's setup as root: the state folder (0700, owned by `user`). Then drops to
// `user` for good: supplementary groups cleared, gid and uid set, and regaining root checked to
// fail. Already running as `user` (systemd's User=): only the folder is checked.
Status PrepareStateDirectory(const std::filesystem::path& state_dir, const std::string& user);
Status DropPrivileges(const std::string& user);

}  // namespace enclave::daemon
