#include "pkcs11/connection.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace enclave::pkcs11 {
namespace {

bool IsExecutable(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

}  // namespace

std::filesystem::path DaemonForModule() {
  if (const char* e = std::getenv("ENCLAVED"); e && *e) return {};
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&DaemonForModule), &info) != 0 && info.dli_fname != nullptr) {
    std::error_code ec;
    const auto self = std::filesystem::canonical(info.dli_fname, ec);
    if (!ec) {
      // build/lib/libenclave-pkcs11.so -> build/bin/enclaved
      const auto beside = self.parent_path().parent_path() / "bin" / "enclaved";
      if (IsExecutable(beside)) return beside;
    }
  }
  const std::filesystem::path installed = std::filesystem::path(ENCLAVE_INSTALL_BINDIR) / "enclaved";
  if (IsExecutable(installed)) return installed;
  return {};
}

Result<std::shared_ptr<client::Client>> Connection::Acquire() {
  std::lock_guard lock(mu_);
  if (client_ && pid_ != ::getpid()) {
    // A forked child: the socket is the parent's session. Closing our copy of the descriptor
    // leaves the parent's connection alone; the child gets a session of its own below.
    client_.reset();
  }
  if (!client_) {
    client::ConnectOptions options;
    options.daemon_path = DaemonForModule();
    ASSIGN_OR_RETURN(auto c, client::Client::Connect(options));
    client_ = std::shared_ptr<client::Client>(std::move(c));
    pid_ = ::getpid();
  }
  return client_;
}

void Connection::Drop(const std::shared_ptr<client::Client>& c) {
  std::lock_guard lock(mu_);
  if (client_ == c) client_.reset();
}

void Connection::Close() {
  std::lock_guard lock(mu_);
  client_.reset();
}

}  // namespace enclave::pkcs11
