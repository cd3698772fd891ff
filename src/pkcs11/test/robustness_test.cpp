// What callers do to a module: fork, call from many threads, outlive the daemon.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "pkcs11/test/harness.h"

namespace enclave::pkcs11::test {
namespace {

class Pkcs11Robustness : public ModuleTest {};

TEST_F(Pkcs11Robustness, ForkedChildGetsItsOwnDaemonSession) {
  CK_SESSION_HANDLE s = Open();
  auto [pub, priv] = Generate(s, "permanent");
  auto [epub, epriv] = Generate(s, "session-only", false);
  Bytes sig;
  ASSERT_EQ(Sign(s, epriv, CKM_ECDSA, Bytes(32, 1), &sig), CKR_OK);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child may go on without C_Initialize (OpenSSH's helper does): it reconnects. Its
    // daemon session is new, so the parent's session-only key is not there; the token key is.
    int code = 0;
    Bytes csig;
    if (Sign(s, priv, CKM_ECDSA, Bytes(32, 2), &csig) != CKR_OK) code |= 1;
    if (Sign(s, epriv, CKM_ECDSA, Bytes(32, 2), &csig) != CKR_KEY_HANDLE_INVALID) code |= 2;
    // A child that initializes again starts from nothing.
    f()->C_Finalize(nullptr);
    if (f()->C_Initialize(nullptr) != CKR_OK) code |= 4;
    CK_SESSION_HANDLE cs = 0;
    if (f()->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &cs) != CKR_OK) code |= 8;
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // The parent's connection and session key are untouched by the child.
  EXPECT_EQ(Sign(s, epriv, CKM_ECDSA, Bytes(32, 3), &sig), CKR_OK);
  EXPECT_EQ(Sign(s, priv, CKM_ECDSA, Bytes(32, 3), &sig), CKR_OK);
}

TEST_F(Pkcs11Robustness, ThreadsShareTheModule) {
  CK_SESSION_HANDLE s = Open();
  auto [pub, priv] = Generate(s, "shared");
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      CK_SESSION_HANDLE mine = 0;
      if (f()->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &mine) != CKR_OK) {
        ++failures;
        return;
      }
      for (int i = 0; i < 5; ++i) {
        Bytes sig;
        if (Sign(mine, priv, CKM_ECDSA_SHA256, Bytes(100, static_cast<uint8_t>(t)), &sig) != CKR_OK)
          ++failures;
        Template publics = Template().Ulong(CKA_CLASS, CKO_PUBLIC_KEY);
        CK_ULONG n = 0;
        CK_OBJECT_HANDLE h = 0;
        if (f()->C_FindObjectsInit(mine, publics.data(), publics.size()) != CKR_OK ||
            f()->C_FindObjects(mine, &h, 1, &n) != CKR_OK || n != 1 ||
            f()->C_FindObjectsFinal(mine) != CKR_OK) {
          ++failures;
        }
      }
      if (f()->C_CloseSession(mine) != CKR_OK) ++failures;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(Pkcs11Robustness, RestartedDaemonIsReconnected) {
  CK_SESSION_HANDLE s = Open();
  auto [pub, priv] = Generate(s, "survivor");
  Bytes sig;
  ASSERT_EQ(Sign(s, priv, CKM_ECDSA, Bytes(32, 4), &sig), CKR_OK);
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(StopDaemon());
    EXPECT_EQ(Sign(s, priv, CKM_ECDSA, Bytes(32, 4), &sig), CKR_OK) << round;
  }
  EXPECT_EQ(Find(s, Template().Ulong(CKA_CLASS, CKO_PRIVATE_KEY)),
            std::vector<CK_OBJECT_HANDLE>{priv});  // same handle
}

}  // namespace
}  // namespace enclave::pkcs11::test
