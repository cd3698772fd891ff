#include "keychain/commit_watch.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

namespace enclave::keychain {
namespace {

// The WAL index header's first copy; the second copy and the checkpoint information follow.
constexpr size_t kHeaderBytes = 48;
constexpr size_t kIndexHeaderBytes = 136;

}  // namespace

std::unique_ptr<CommitWatch> CommitWatch::Open(const std::filesystem::path& database) {
  const std::string shm = database.string() + "-shm";
  const int fd = ::open(shm.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return nullptr;
  struct stat st {};
  void* map = MAP_FAILED;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && static_cast<size_t>(st.st_size) >= kIndexHeaderBytes) {
    map = ::mmap(nullptr, kIndexHeaderBytes, PROT_READ, MAP_SHARED, fd, 0);
  }
  ::close(fd);  // the mapping stays valid
  if (map == MAP_FAILED) return nullptr;
  return std::unique_ptr<CommitWatch>(new CommitWatch(map, kIndexHeaderBytes));
}

CommitWatch::~CommitWatch() { ::munmap(mapping_, size_); }

CommitWatch::Mark CommitWatch::Now() const {
  // Volatile: another process changes these bytes; each is read from the mapping every time.
  const volatile uint8_t* header = static_cast<const volatile uint8_t*>(mapping_);
  Mark mark;
  for (size_t i = 0; i < kHeaderBytes; ++i) mark[i] = header[i];
  std::atomic_thread_fence(std::memory_order_acquire);
  return mark;
}

}  // namespace enclave::keychain
