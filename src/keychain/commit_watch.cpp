#include "keychain/commit_watch.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

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
  // Another process writes these words: each is loaded from the mapping every time, and with
  // acquire order, so that what is read from the database afterwards is no older than the mark.
  const auto* words = static_cast<const uint32_t*>(mapping_);
  Mark mark;
  for (size_t i = 0; i < kHeaderBytes / sizeof(uint32_t); ++i) {
    const uint32_t word = __atomic_load_n(&words[i], __ATOMIC_ACQUIRE);
    std::memcpy(mark.data() + i * sizeof word, &word, sizeof word);
  }
  return mark;
}

}  // namespace enclave::keychain
