// Where an enclave lives: the home directory and the daemon's files in it. One rule, below both
// enclaved and the client library (and so the CLI): $ENCLAVE_HOME, else $XDG_DATA_HOME/enclave, else
// ~/.local/share/enclave.
#pragma once

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace enclave {

inline std::filesystem::path ResolveHome() {
  if (const char* e = std::getenv("ENCLAVE_HOME"); e && *e) return e;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return std::filesystem::path(x) / "enclave";
  std::string user_home;
  if (const char* h = std::getenv("HOME"); h && *h) {
    user_home = h;
  } else if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir) {
    user_home = pw->pw_dir;
  } else {
    user_home = "/";
  }
  return std::filesystem::path(user_home) / ".local" / "share" / "enclave";
}

inline std::filesystem::path SocketPath(const std::filesystem::path& home) { return home / "enclaved.sock"; }
inline std::filesystem::path PidPath(const std::filesystem::path& home) { return home / "enclaved.pid"; }

}  // namespace enclave
