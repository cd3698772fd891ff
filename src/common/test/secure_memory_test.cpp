// Secrets live in the locked arena once a process sets it up; a memlock limit too small to lock
// it is reported, not hidden. Each case runs in a child process, since the arena is set up once.
#include "common/secure_memory.h"

#include <gtest/gtest.h>
#include <openssl/crypto.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/bytes.h"

namespace enclave {
namespace {

// Runs `body` in a child; its exit status (0 = every expectation held) is returned.
template <typename F>
int InChild(F body) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

TEST(SecureMemory, SecretsComeFromTheLockedArena) {
  const int r = InChild([] {
    rlimit enough{8 << 20, 8 << 20};
    ::setrlimit(RLIMIT_MEMLOCK, &enough);
    if (!InitSecureMemory()) return 1;
    SecureBytes key(32);
    if (!CRYPTO_secure_allocated(key.data())) return 2;
    const auto report = SecureMemoryReport();
    if (report["locked"] != true) return 3;
    if (report["vm_locked_kib"].get<int64_t>() <= 0) return 4;
    if (report["arena_used_bytes"].get<size_t>() == 0) return 5;
    if (report.contains("note")) return 6;
    return 0;
  });
  EXPECT_EQ(r, 0) << "1 not locked, 2 not in the arena, 3-6 report";
}

TEST(SecureMemory, TooSmallALimitIsReported) {
  const int r = InChild([] {
    // Root may lock beyond any limit; an ordinary user may not.
    if (::geteuid() == 0 && ::setresuid(65534, 65534, 65534) != 0) return 10;
    rlimit tiny{4096, 4096};
    if (::setrlimit(RLIMIT_MEMLOCK, &tiny) != 0) return 11;
    if (InitSecureMemory()) return 1;
    SecureBytes key(32);  // still wiped on free, still outside core dumps
    if (!CRYPTO_secure_allocated(key.data())) return 2;
    const auto report = SecureMemoryReport();
    if (report["locked"] != false) return 3;
    if (report.value("note", "").find("too small") == std::string::npos) return 4;
    return 0;
  });
  EXPECT_EQ(r, 0) << "1 claimed locked, 2 not in the arena, 3-4 report, 10-11 setup";
}

TEST(SecureMemory, WithoutAnArenaSecretsStillWork) {
  SecureBytes a(AsBytes("secret"));
  SecureBytes b = a;
  EXPECT_TRUE(a == b);
  EXPECT_EQ(SecureMemoryReport()["locked"], false);
}

}  // namespace
}  // namespace enclave
