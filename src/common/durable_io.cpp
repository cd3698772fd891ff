#include "common/durable_io.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <utility>

namespace enclave::durable {
namespace {

constexpr int64_t kErrSecDiskFull = -34;

std::mutex g_mu;
FaultPlan g_plan;
int64_t g_seen = 0;
bool g_fired = false;
// Read on every write without the mutex: the common case is "nothing armed".
std::atomic<bool> g_armed{false};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

Error IoError(const std::string& what, const std::filesystem::path& path, int err) {
  std::string text = what + " " + path.filename().string() + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT || err == EFBIG)
    return OSStatusError(kErrSecDiskFull, text).WithCause("disk-full");
  return OSStatusError(errsec::kIO, text).WithCause("database-io");
}

std::string RandomSuffix() {
  uint8_t r[4] = {};
  (void)RAND_bytes(r, sizeof(r));
  return HexEncode(ByteView(r, sizeof(r)));
}

}  // namespace

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kWrite:
      return "write";
    case Op::kSync:
      return "sync";
    case Op::kRename:
      return "rename";
    case Op::kRemove:
      return "remove";
    case Op::kTruncate:
      return "truncate";
  }
  return "?";
}

void Arm(FaultPlan plan) {
  std::lock_guard lock(g_mu);
  g_plan = plan;
  g_seen = 0;
  g_fired = false;
  g_armed = true;
}

void Disarm() {
  std::lock_guard lock(g_mu);
  g_plan = FaultPlan{};
  g_armed = false;
}

int64_t OpsSeen() {
  std::lock_guard lock(g_mu);
  return g_seen;
}

bool Fired() {
  std::lock_guard lock(g_mu);
  return g_fired;
}

bool Crashed() {
  std::lock_guard lock(g_mu);
  return g_armed && g_fired && g_plan.mode == FaultPlan::Mode::kCrash;
}

int Before(Op op, std::string_view path) {
  (void)op;
  (void)path;
  if (!g_armed.load(std::memory_order_relaxed)) return 0;
  std::lock_guard lock(g_mu);
  if (!g_armed) return 0;
  if (g_plan.mode == FaultPlan::Mode::kCrash && g_fired) return EIO;  // a dead process writes nothing
  ++g_seen;
  if (g_plan.mode == FaultPlan::Mode::kCount || g_seen != g_plan.at) return 0;
  g_fired = true;
  return EIO;
}

Status WriteFileAtomic(const std::filesystem::path& path, ByteView contents, unsigned mode) {
  std::filesystem::path tmp = path;
  tmp += ".tmp-" + std::to_string(::getpid()) + "-" + RandomSuffix();
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (fd.get() < 0) return IoError("cannot create a temporary file for", path, errno);
  ::fchmod(fd.get(), mode);  // the umask may have removed bits we want; never add any
  auto fail = [&](const char* what, int err) {
    ::unlink(tmp.c_str());
    return IoError(what, path, err);
  };
  if (int err = Before(Op::kWrite, tmp.native()); err != 0) return fail("cannot write", err);
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd.get(), contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot write", errno);
    done += static_cast<size_t>(n);
  }
  if (int err = Before(Op::kSync, tmp.native()); err != 0) return fail("cannot flush", err);
  if (::fsync(fd.get()) != 0 || ::close(fd.Release()) != 0) return fail("cannot flush", errno);
  if (int err = Before(Op::kRename, path.native()); err != 0) return fail("cannot replace", err);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("cannot replace", errno);
  // The new file is in place: a failed directory sync only weakens durability against power
  // loss, and reporting failure now would make the caller believe the old file is still there.
  if (Before(Op::kSync, path.parent_path().native()) == 0) {
    Fd dir(::open(path.parent_path().empty() ? "." : path.parent_path().c_str(),
                  O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.get() >= 0) ::fsync(dir.get());
  }
  return Ok();
}

Status Rename(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (int err = Before(Op::kRename, to.native()); err != 0) return IoError("cannot move", from, err);
  if (::rename(from.c_str(), to.c_str()) != 0) return IoError("cannot move", from, errno);
  return Ok();
}

Result<Bytes> ReadFile(const std::filesystem::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return IoError("cannot read", path, errno);
  // Read straight into the result, never through a buffer of our own: callers read secrets
  // (the device secret) and cleanse only what they are given.
  Bytes data;
  size_t done = 0;
  for (;;) {
    if (data.size() - done < 512) data.resize(data.size() + 4096);
    ssize_t n = ::read(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError("cannot read", path, errno);
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  data.resize(done);
  return data;
}

}  // namespace enclave::durable
