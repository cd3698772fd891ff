#include "daemon/listen.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace enclave::daemon {
namespace {

Error SystemCallError(const std::string& what, int err) {
  return ListenError(what + ": " + std::strerror(err), CauseOfErrno(err));
}

// Whether something accepts connections on `addr` (a live daemon, not a stale file).
bool SomeoneListens(const sockaddr_un& addr) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return false;
  return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

Result<passwd> LookUpUser(const std::string& user) {
  const passwd* pw = ::getpwnam(user.c_str());
  if (pw == nullptr) {
    return ListenError(
        "no user '" + user + "' to run the system daemon as (create it: useradd --system " + user + ")",
        "home-unusable");
  }
  return *pw;
}

}  // namespace

Error ListenError(const std::string& what, const std::string& cause) {
  return OSStatusError(errsec::kNotAvailable, what).WithCause(cause);
}

std::string CauseOfErrno(int err) {
  switch (err) {
    case EACCES:
    case EPERM:
      return "permission-denied";
    case ENOSPC:
    case EDQUOT:
      return "disk-full";
    case ENOTDIR:
    case EROFS:
    case EEXIST:
    case ENOENT:
    case EISDIR:
    case ELOOP:
    case ENAMETOOLONG:
      return "home-unusable";
    default:
      return "daemon-unavailable";
  }
}

Status EnsureDirectory(const std::filesystem::path& dir, mode_t mode) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return Ok();
  if (std::filesystem::exists(dir, ec)) {
    return ListenError(dir.string() + " is not a directory", "home-unusable");
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) return SystemCallError("cannot create " + dir.string(), ec.value());
  ::chmod(dir.c_str(), mode);
  return Ok();
}

std::filesystem::path StagingPathOf(const std::filesystem::path& path) {
  std::string name = path.filename().string();
  // ".enclaved.sock" would be a byte longer; ".enclaved.soc" keeps the length, so a home that
  // fits a socket path also fits its staging name.
  if (!name.empty()) name = "." + name.substr(0, name.size() - 1);
  return path.parent_path() / name;
}

Status PublishSocket(const std::filesystem::path& staging, const std::filesystem::path& path) {
  if (::rename(staging.c_str(), path.c_str()) != 0) {
    return SystemCallError("cannot move " + staging.string() + " to " + path.string(), errno);
  }
  return Ok();
}

Result<UniqueFd> BindSocket(const std::filesystem::path& path, mode_t mode,
                            const std::filesystem::path& staging) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string s = path.string();
  if (s.size() >= sizeof addr.sun_path) {
    return ListenError("the socket path " + s + " is " + std::to_string(s.size()) +
                           " bytes, longer than a Unix socket allows (" +
                           std::to_string(sizeof addr.sun_path - 1) + ")",
                       "socket-path-too-long");
  }
  std::memcpy(addr.sun_path, s.c_str(), s.size() + 1);
  struct stat st {};
  if (::lstat(s.c_str(), &st) == 0) {
    if (SomeoneListens(addr)) {
      return ListenError("something already listens on " + s).WithInfo("already_running", true);
    }
    // Stale: its daemon died. A file we cannot remove is named, not reported as "in use".
    if (::unlink(s.c_str()) != 0) {
      const int err = errno;
      return ListenError("cannot remove the stale socket " + s + " (" + std::strerror(err) +
                             "); remove it, or make its folder writable",
                         CauseOfErrno(err) == "daemon-unavailable" ? "home-unusable" : CauseOfErrno(err));
    }
  }
  // The staging name is only ever touched by the home's lock holder: one left there is a killed
  // daemon's.
  const std::string bound = staging.empty() ? s : staging.string();
  if (!staging.empty()) {
    if (bound.size() > s.size()) return ListenError("the staging path " + bound + " is longer than " + s);
    std::memset(addr.sun_path, 0, sizeof addr.sun_path);
    std::memcpy(addr.sun_path, bound.c_str(), bound.size() + 1);
    if (::unlink(bound.c_str()) != 0 && errno != ENOENT) {
      return SystemCallError("cannot remove the stale socket " + bound, errno);
    }
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ListenError(std::string("cannot create a socket: ") + std::strerror(errno));
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return SystemCallError("cannot bind " + bound, errno);
  }
  // Before listen() nobody can connect, so there is no window with other permissions.
  ::chmod(bound.c_str(), mode);
  if (::listen(fd.get(), 128) != 0) return SystemCallError("cannot listen on " + bound, errno);
  return fd;
}

void CloseDescriptorsFrom(int first) { ::close_range(static_cast<unsigned>(first), ~0U, 0); }

UniqueFd MoveToTopDescriptor(UniqueFd fd, int slot) {
  // Capped: under a limit of a million descriptors the table would grow to its whole size.
  constexpr rlim_t kHighest = 4096;
  rlimit limit{};
  if (!fd.valid() || ::getrlimit(RLIMIT_NOFILE, &limit) != 0) return fd;
  const rlim_t top = std::min(limit.rlim_cur, kHighest);
  if (top <= static_cast<rlim_t>(slot) + 64) return fd;
  const int wanted = static_cast<int>(top) - 1 - slot;
  if (fd.get() == wanted) return fd;
  // Not dup3: a descriptor already at that number (none at startup) must not be closed.
  const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, wanted);
  if (moved < 0) return fd;
  return UniqueFd(moved);
}

Status PrepareStateDirectory(const std::filesystem::path& state_dir, const std::string& user) {
  ASSIGN_OR_RETURN(const passwd pw, LookUpUser(user));
  RETURN_IF_ERROR(EnsureDirectory(state_dir, 0700));
  if (::geteuid() == 0 && ::chown(state_dir.c_str(), pw.pw_uid, pw.pw_gid) != 0) {
    return SystemCallError("cannot give " + state_dir.string() + " to " + user, errno);
  }
  ::chmod(state_dir.c_str(), 0700);
  // The request log's folder may have been made as root a moment ago.
  const std::filesystem::path logs = state_dir / "logs";
  if (::geteuid() == 0 && std::filesystem::exists(logs)) (void)::chown(logs.c_str(), pw.pw_uid, pw.pw_gid);
  struct stat st {};
  if (::stat(state_dir.c_str(), &st) != 0 || st.st_uid != pw.pw_uid) {
    return ListenError(state_dir.string() + " is not owned by " + user, "home-unusable");
  }
  return Ok();
}

Status DropPrivileges(const std::string& user) {
  ASSIGN_OR_RETURN(const passwd pw, LookUpUser(user));
  if (::getuid() == pw.pw_uid && ::geteuid() == pw.pw_uid) return Ok();
  if (::geteuid() != 0) {
    return ListenError(
        "the system daemon starts as root (it drops to " + user + ") or as " + user + " itself",
        "permission-denied");
  }
  if (::setgroups(0, nullptr) != 0 || ::setresgid(pw.pw_gid, pw.pw_gid, pw.pw_gid) != 0 ||
      ::setresuid(pw.pw_uid, pw.pw_uid, pw.pw_uid) != 0) {
    return SystemCallError("cannot drop to user " + user, errno);
  }
  if (::setuid(0) == 0 || ::geteuid() == 0) {
    // Never run on as root by accident.
    std::abort();
  }
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  return Ok();
}

}  // namespace enclave::daemon
