// The diagnostics bundle: the service's report files plus the CLI's own version facts, packed
// with tar(1) into a .tar.gz.
#include <fcntl.h>
#include <openssl/opensslv.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "cli/context.h"
#include "common/error_catalog.h"
#include "common/version.h"

extern char** environ;

namespace enclave::cli {
namespace {

namespace fs = std::filesystem;

// Removes the staging folder whatever happens.
class TempDir {
 public:
  static Result<TempDir> Create() {
    std::string pattern = (fs::temp_directory_path() / "enclave-sysdiagnose-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      return OSStatusError(errsec::kIO, "cannot create a temporary folder").WithCause("database-io");
    }
    return TempDir(pattern);
  }
  TempDir(TempDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  explicit TempDir(fs::path p) : path_(std::move(p)) {}
  fs::path path_;
};

// A bundle member name from the service: relative, no "..", no empty parts.
bool SafeMemberName(const std::string& name) {
  if (name.empty() || name.front() == '/') return false;
  for (const auto& part : fs::path(name)) {
    if (part == ".." || part == "." || part.empty()) return false;
  }
  return true;
}

// tar writes the bundle to a descriptor opened here 0600: the bundle describes the enclave and
// stays as private as the home it came from, whatever the umask.
Status RunTar(const fs::path& dir, const std::string& out) {
  const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return OSStatusError(errsec::kParam, "cannot write '" + out + "': " + std::strerror(errno))
        .WithCause("bad-parameter");
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::fchmod(fd, 0600) != 0) {
    return OSStatusError(errsec::kParam, "cannot make '" + out + "' private: " + std::strerror(errno))
        .WithCause("bad-parameter");
  }
  const std::string dir_s = dir.string();
  std::vector<std::string> args = {"tar", "-czf", "-", "-C", dir_s, "."};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fd, STDOUT_FILENO);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, "tar", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return OSStatusError(errsec::kIO, "cannot run tar to write the bundle").WithCause("internal");
  }
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) return OSStatusError(errsec::kIO, "waiting for tar failed").WithCause("internal");
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return OSStatusError(errsec::kIO, "tar failed writing '" + out + "'").WithCause("database-io");
  }
  return Ok();
}

}  // namespace

nlohmann::json CliVersionInfo() {
  return {{"program", "enclave"},
          {"version", ENCLAVE_VERSION},
          {"git_revision", GitRevision()},
          {"error_catalog_version", catalog::Version()},
          {"error_catalog_codes", catalog::AllCodes().size()},
          {"openssl_build", OPENSSL_VERSION_TEXT},
          {"compiler", __VERSION__}};
}

Status WriteDiagnosticsBundle(const nlohmann::json& report, const std::string& out_path) {
  if (!report.is_object() || !report.contains("files") || !report["files"].is_object()) {
    return OSStatusError(errsec::kDecode, "the diagnostics report has no files").WithCause("protocol-error");
  }
  ASSIGN_OR_RETURN(TempDir dir, TempDir::Create());
  for (const auto& [name, content] : report["files"].items()) {
    if (!SafeMemberName(name)) {
      return OSStatusError(errsec::kParam, "refusing bundle member name '" + name + "'")
          .WithCause("protocol-error");
    }
    const fs::path target = dir.path() / name;
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    const std::string text = content.is_string() ? content.get<std::string>() : content.dump(2);
    RETURN_IF_ERROR(WriteFileBytes(target.string(), AsBytes(text)));
  }
  RETURN_IF_ERROR(
      WriteFileBytes((dir.path() / "enclave-cli-version.json").string(), AsBytes(CliVersionInfo().dump(2))));
  return RunTar(dir.path(), out_path);
}

}  // namespace enclave::cli
