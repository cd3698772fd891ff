// Where an enclave lives: the home directory and the daemon's files in it. One rule, below both
// enclaved and the client library (and so the CLI): $ENCLAVE_HOME, else $XDG_DATA_HOME/enclave, else
// ~/.local/share/enclave.
#pragma once

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
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

inline constexpr char kDefaultSystemSocket[] = "/run/enclave/enclaved.sock";

// The first word of a mode file ("system" or "user"), or "" when there is none.
inline std::string ReadModeFile(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string word;
  in >> word;
  return word;
}

// The system daemon's socket when clients are to use it, else nullopt (the per-user daemon).
// The mode is $ENCLAVE_MODE ("system" | "user"), else the first word of
// $XDG_CONFIG_HOME/enclave/mode (~/.config/enclave/mode), else of /etc/enclave/mode; the socket
// is $ENCLAVE_SYSTEM_SOCKET, else /run/enclave/enclaved.sock.
inline std::optional<std::filesystem::path> SystemSocket() {
  std::string mode;
  if (const char* m = std::getenv("ENCLAVE_MODE"); m && *m) {
    mode = m;
  } else {
    std::filesystem::path user_config;
    if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) {
      user_config = std::filesystem::path(x) / "enclave" / "mode";
    } else if (const char* h = std::getenv("HOME"); h && *h) {
      user_config = std::filesystem::path(h) / ".config" / "enclave" / "mode";
    }
    if (!user_config.empty()) mode = ReadModeFile(user_config);
    if (mode.empty()) mode = ReadModeFile("/etc/enclave/mode");
  }
  if (mode != "system") return std::nullopt;
  if (const char* s = std::getenv("ENCLAVE_SYSTEM_SOCKET"); s && *s) return std::filesystem::path(s);
  return std::filesystem::path(kDefaultSystemSocket);
}
inline std::filesystem::path PidPath(const std::filesystem::path& home) { return home / "enclaved.pid"; }

}  // namespace enclave
