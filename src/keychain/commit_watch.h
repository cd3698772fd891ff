// Tells, without a system call or a lock, whether any connection (in this process or another)
// may have committed to a WAL-mode database since a moment noted earlier.
//
// SQLite keeps the WAL index header in the database's -shm file, which every connection maps;
// each commit rewrites it (its change counter, last frame and checksums move), and a WAL restart
// changes its salts. Its layout is SQLite's documented file format: two copies of a 48-byte
// header at the start of the file, the first written last. A CommitWatch maps that first copy
// read-only and compares it: equal bytes mean no commit since; any difference (a commit, or a
// header caught mid-write) means "maybe", and the caller reads the database again.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>

namespace enclave::keychain {

class CommitWatch {
 public:
  using Mark = std::array<uint8_t, 48>;

  // Maps <database>-shm; nullptr when it cannot (no such file yet, not WAL mode, too short).
  static std::unique_ptr<CommitWatch> Open(const std::filesystem::path& database);
  ~CommitWatch();
  CommitWatch(const CommitWatch&) = delete;
  CommitWatch& operator=(const CommitWatch&) = delete;

  // The header now; a Mark taken before a read is still current if Now() equals it later.
  Mark Now() const;

 private:
  CommitWatch(void* mapping, size_t size) : mapping_(mapping), size_(size) {}
  void* mapping_;  // read-only, shared with every connection's writes
  size_t size_;
};

}  // namespace enclave::keychain
