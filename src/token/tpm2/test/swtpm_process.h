// Test support: a swtpm on loopback with its own state directory, stopped on destruction.
// Other suites that run tokens against a TPM may include this header.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace enclave::testing {

class SwtpmProcess {
 public:
  // The swtpm binary from PATH, or nullopt when swtpm is not installed.
  static std::optional<std::string> FindBinary() {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    size_t start = 0;
    while (start <= dirs.size()) {
      const size_t end = dirs.find(':', start);
      const std::string dir = dirs.substr(start, end == std::string::npos ? end : end - start);
      const std::string candidate = (dir.empty() ? "." : dir) + "/swtpm";
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
      if (end == std::string::npos) break;
      start = end + 1;
    }
    return std::nullopt;
  }

  SwtpmProcess() {
    std::error_code ec;
    std::string tmpl = (std::filesystem::temp_directory_path(ec) / "enclave-swtpm-XXXXXX").string();
    if (char* d = ::mkdtemp(tmpl.data())) state_dir_ = d;
  }
  ~SwtpmProcess() {
    Stop();
    std::error_code ec;
    if (!state_dir_.empty()) std::filesystem::remove_all(state_dir_, ec);
  }
  SwtpmProcess(const SwtpmProcess&) = delete;
  SwtpmProcess& operator=(const SwtpmProcess&) = delete;

  // Starts swtpm on a free port pair (server P, control P+1), or on the previous port after
  // a Stop(). False when it does not come up.
  bool Start() {
    auto binary = FindBinary();
    if (!binary || state_dir_.empty()) return false;
    if (port_ == 0) port_ = FreePortPair();
    if (port_ == 0) return false;
    const std::string server = "type=tcp,port=" + std::to_string(port_) + ",bindaddr=127.0.0.1";
    const std::string ctrl = "type=tcp,port=" + std::to_string(port_ + 1) + ",bindaddr=127.0.0.1";
    const std::string state = "dir=" + state_dir_;
    std::vector<std::string> args = {*binary,
                                     "socket",
                                     "--tpm2",
                                     "--tpmstate",
                                     state,
                                     "--server",
                                     server,
                                     "--ctrl",
                                     ctrl,
                                     "--flags",
                                     "not-need-init,startup-clear"};
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    if (pid_ < 0) return false;
    // Probe the control port: a probe on the server port would take swtpm's only client slot.
    for (int i = 0; i < 200; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // it died (e.g. a port was taken)
        pid_ = -1;
        return false;
      }
      if (CanConnect(port_ + 1)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  }

  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  // What a TPM clear does to the keys: new seeds, so every old blob is foreign.
  void WipeState() {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(state_dir_, ec)) {
      std::filesystem::remove_all(entry.path(), ec);
    }
  }

  int port() const { return port_; }
  std::string Tcti() const { return "swtpm:host=127.0.0.1,port=" + std::to_string(port_); }

  static bool CanConnect(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    return ok;
  }

  // An even port P with P and P+1 free on loopback (0 when none was found). Pairs start on even
  // ports so that two tests running at once can never pick overlapping pairs (one's control
  // port being the other's server port, where a probe would find the wrong swtpm).
  static int FreePortPair() {
    for (int attempt = 0; attempt < 100; ++attempt) {
      const int p = BindFree(0) & ~1;
      if (p > 1024 && p < 65534 && BindFree(p) == p && BindFree(p + 1) == p + 1) return p;
    }
    return 0;
  }

 private:
  static int BindFree(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int result = 0;
    socklen_t len = sizeof(addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      result = ntohs(addr.sin_port);
    }
    ::close(fd);
    return result;
  }

  std::string state_dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace enclave::testing
