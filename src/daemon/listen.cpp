#include "daemon/listen.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

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

Result<UniqueFd> BindSocket(const std::filesystem::path& path, mode_t mode) {
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
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ListenError(std::string("cannot create a socket: ") + std::strerror(errno));
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return SystemCallError("cannot bind " + s, errno);
  }
  // Before listen() nobody can connect, so there is no window with other permissions.
  ::chmod(s.c_str(), mode);
  if (::listen(fd.get(), 64) != 0) return SystemCallError("cannot listen on " + s, errno);
  return fd;
}

void CloseDescriptorsFrom(int first) { ::close_range(static_cast<unsigned>(first), ~0U, 0); }

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
