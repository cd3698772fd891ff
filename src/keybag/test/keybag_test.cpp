// Sealing, lock state, restarts, files on disk and damaged keys, against real files.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <utility>

#include "common/durable_io.h"
#include "crypto/ec.h"
#include "keybag/record.h"
#include "keybag/test/keybag_test_util.h"

namespace enclave::keybag::testing {
namespace {

using PC = ProtectionClass;

const Bytes kAad = ToBytes("item-attributes");
const Bytes kSecret = ToBytes("a private scalar of 32 bytes....");

void ExpectError(const Error& e, const char* domain, int64_t code, const char* cause) {
  EXPECT_EQ(e.domain, domain) << e.ToString();
  EXPECT_EQ(e.code, code) << e.ToString();
  EXPECT_EQ(e.effective_cause(), cause) << e.ToString();
}

template <typename T>
void ExpectKeystore(const Result<T>& r, int64_t code, const char* cause) {
  ASSERT_FALSE(r.ok());
  ExpectError(r.error(), domain::kAKS, code, cause);
}

TEST(ProtectionClassNames, RoundTripAndUnknown) {
  ASSERT_EQ(AllProtectionClasses().size(), 7u);
  for (PC c : AllProtectionClasses()) {
    auto by_name = ParseAccessible(AccessibleName(c));
    ASSERT_TRUE(by_name.ok());
    EXPECT_EQ(*by_name, c);
    auto by_code = ParseAccessible(PlatformCode(c));
    ASSERT_TRUE(by_code.ok());
    EXPECT_EQ(*by_code, c);
  }
  EXPECT_EQ(PlatformCode(PC::kWhenPasscodeSetThisDeviceOnly), "akpu");
  EXPECT_EQ(AccessibleName(PC::kAfterFirstUnlock), "after-first-unlock");
  auto bad = ParseAccessible("sometimes");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, errsec::kParam);
  EXPECT_NE(bad.error().description.find("when-passcode-set-this-device-only"), std::string::npos);
}

TEST_F(KeybagTest, SealsAndUnsealsInEveryClass) {
  auto kb = OpenOrDie();
  ASSERT_TRUE(kb->SetPasscode(std::nullopt, Pass("1234")).ok());
  for (PC c : AllProtectionClasses()) {
    auto sealed = kb->Seal(c, kSecret, kAad);
    ASSERT_TRUE(sealed.ok()) << PlatformCode(c) << ": " << sealed.error().ToString();
    EXPECT_EQ(std::search(sealed->begin(), sealed->end(), kSecret.begin(), kSecret.end()), sealed->end());
    auto opened = kb->Unseal(c, *sealed, kAad);
    ASSERT_TRUE(opened.ok()) << PlatformCode(c) << ": " << opened.error().ToString();
    EXPECT_EQ(ToString(opened->view()), ToString(kSecret));
    // A blob of one class does not open under another class's key.
    PC other = c == PC::kAlways ? PC::kAlwaysThisDeviceOnly : PC::kAlways;
    ExpectKeystore(kb->Unseal(other, *sealed, kAad), aks::kError, "key-blob-corrupt");
  }
}

TEST_F(KeybagTest, WrongAadOrDamagedBlobIsKeyBlobCorrupt) {
  auto kb = OpenOrDie();
  auto sealed = kb->Seal(PC::kAfterFirstUnlock, kSecret, kAad);
  ASSERT_TRUE(sealed.ok());
  ExpectKeystore(kb->Unseal(PC::kAfterFirstUnlock, *sealed, ToBytes("other-attributes")), aks::kError,
                 "key-blob-corrupt");
  Bytes flipped = *sealed;
  flipped[flipped.size() / 2] ^= 1;
  ExpectKeystore(kb->Unseal(PC::kAfterFirstUnlock, flipped, kAad), aks::kError, "key-blob-corrupt");
  ExpectKeystore(kb->Unseal(PC::kAfterFirstUnlock, Bytes{1, 2, 3}, kAad), aks::kError, "key-blob-corrupt");
}

TEST_F(KeybagTest, LockDropsWhenUnlockedClassesAndUnlockRestoresThem) {
  auto kb = OpenOrDie();
  ASSERT_TRUE(kb->SetPasscode(std::nullopt, Pass("1234")).ok());
  std::map<PC, Bytes> sealed;
  for (PC c : AllProtectionClasses()) sealed[c] = *kb->Seal(c, kSecret, kAad);

  kb->Lock();
  EXPECT_TRUE(kb->State().locked);
  for (PC c : {PC::kWhenUnlocked, PC::kWhenUnlockedThisDeviceOnly, PC::kWhenPasscodeSetThisDeviceOnly}) {
    auto r = kb->Unseal(c, sealed[c], kAad);
    ExpectKeystore(r, aks::kNoPermission, "device-locked");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, -536870174);
    EXPECT_FALSE(kb->CheckClassAvailable(c).ok());
    ExpectKeystore(kb->Seal(c, kSecret, kAad), aks::kNoPermission, "device-locked");
  }
  for (PC c :
       {PC::kAfterFirstUnlock, PC::kAfterFirstUnlockThisDeviceOnly, PC::kAlways, PC::kAlwaysThisDeviceOnly}) {
    EXPECT_TRUE(kb->Unseal(c, sealed[c], kAad).ok()) << PlatformCode(c);
  }

  ASSERT_TRUE(kb->Unlock(Pass("1234")).ok());
  EXPECT_FALSE(kb->State().locked);
  for (PC c : AllProtectionClasses()) EXPECT_TRUE(kb->Unseal(c, sealed[c], kAad).ok()) << PlatformCode(c);
}

TEST_F(KeybagTest, WithoutPasscodeLockStillWorksAndAnyPasscodeUnlocks) {
  auto kb = OpenOrDie();
  auto sealed = *kb->Seal(PC::kWhenUnlocked, kSecret, kAad);
  kb->Lock();
  ExpectKeystore(kb->Unseal(PC::kWhenUnlocked, sealed, kAad), aks::kNoPermission, "device-locked");
  ASSERT_TRUE(kb->Unlock(Pass("")).ok());
  EXPECT_TRUE(kb->Unseal(PC::kWhenUnlocked, sealed, kAad).ok());
  kb->Lock();
  ASSERT_TRUE(kb->Unlock(Pass("anything")).ok());
  EXPECT_TRUE(kb->Unseal(PC::kWhenUnlocked, sealed, kAad).ok());
}

TEST_F(KeybagTest, RestartWithoutKeyringStartsBeforeFirstUnlock) {
  Bytes ak, ck, dk;
  {
    auto kb = OpenOrDie();
    ASSERT_TRUE(kb->SetPasscode(std::nullopt, Pass("1234")).ok());
    ak = *kb->Seal(PC::kWhenUnlocked, kSecret, kAad);
    ck = *kb->Seal(PC::kAfterFirstUnlock, kSecret, kAad);
    dk = *kb->Seal(PC::kAlways, kSecret, kAad);
  }
  auto kb = OpenOrDie();
  EXPECT_FALSE(kb->State().first_unlock_done);
  EXPECT_EQ(kb->Describe()["kernel_keyring"], "disabled");
  ExpectKeystore(kb->Unseal(PC::kWhenUnlocked, ak, kAad), aks::kNoPermission, "before-first-unlock");
  ExpectKeystore(kb->Unseal(PC::kAfterFirstUnlock, ck, kAad), aks::kNoPermission, "before-first-unlock");
  EXPECT_TRUE(kb->Unseal(PC::kAlways, dk, kAad).ok());
  ASSERT_TRUE(kb->Unlock(Pass("1234")).ok());
  EXPECT_TRUE(kb->State().first_unlock_done);
  EXPECT_TRUE(kb->Unseal(PC::kWhenUnlocked, ak, kAad).ok());
  EXPECT_TRUE(kb->Unseal(PC::kAfterFirstUnlock, ck, kAad).ok());
}

TEST_F(KeybagTest, RestartWithKeyringKeepsLockStateAndAfterFirstUnlockClasses) {
  KeybagOptions o = TestOptions();
  o.use_kernel_keyring = true;
  Bytes ak, ck;
  {
    auto kb = OpenOrDie(o);
    ASSERT_TRUE(kb->SetPasscode(std::nullopt, Pass("1234")).ok());
    if (kb->Describe()["kernel_keyring"] != "used") GTEST_SKIP() << "the kernel keyring is not usable here";
    ak = *kb->Seal(PC::kWhenUnlocked, kSecret, kAad);
    ck = *kb->Seal(PC::kAfterFirstUnlock, kSecret, kAad);
    kb->Lock();
  }
  {
    auto kb = OpenOrDie(o);
    EXPECT_TRUE(kb->State().first_unlock_done);
    EXPECT_TRUE(kb->State().locked);
    EXPECT_TRUE(kb->Unseal(PC::kAfterFirstUnlock, ck, kAad).ok());
    ExpectKeystore(kb->Unseal(PC::kWhenUnlocked, ak, kAad), aks::kNoPermission, "device-locked");
    ASSERT_TRUE(kb->Unlock(Pass("1234")).ok());
  }
  {
    auto kb = OpenOrDie(o);  // unlocked before the restart: stays unlocked
    EXPECT_FALSE(kb->State().locked);
    EXPECT_TRUE(kb->Unseal(PC::kWhenUnlocked, ak, kAad).ok());
    ASSERT_TRUE(kb->RemovePasscode(Pass("1234")).ok());
  }
  EXPECT_FALSE(internal::KeyringStash(dir_).Load().has_value()) << "removing the passcode revokes the stash";
}

TEST_F(KeybagTest, StashThatDoesNotMatchIsIgnored) {
  KeybagOptions o = TestOptions();
  o.use_kernel_keyring = true;
  Bytes ck;
  {
    auto kb = OpenOrDie(o);
    ASSERT_TRUE(kb->SetPasscode(std::nullopt, Pass("1234")).ok());
    if (kb->Describe()["kernel_keyring"] != "used") GTEST_SKIP() << "the kernel keyring is not usable here";
    ck = *kb->Seal(PC::kAfterFirstUnlock, kSecret, kAad);
  }
  // Another home's key under this home's description must not open it.
  internal::KeyringStash stash(dir_);
  ASSERT_TRUE(stash.Store(crypto::RandomSecret(32)));
  auto kb = OpenOrDie(o);
  EXPECT_FALSE(kb->State().first_unlock_done);
  ExpectKeystore(kb->Unseal(PC::kAfterFirstUnlock, ck, kAad), aks::kNoPermission, "before-first-unlock");
}

TEST_F(KeybagTest, FilesArePrivateAndHoldNoSecretInClear) {
  const std::string passcode = "correct horse battery";
  {
    auto kb = OpenOrDie();
    ASSERT_TRUE(kb->SetPasscode(std::nullopt, Pass(passcode)).ok());
  }
  for (const char* name : {internal::kRecordFile, internal::kDeviceSecretFile}) {
    struct stat st {};
    ASSERT_EQ(::stat((dir_ / name).c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << name;
  }
  // Re-derive the class keys independently from the files, as the design describes them.
  Bytes device = *durable::ReadFile(dir_ / internal::kDeviceSecretFile);
  ASSERT_EQ(device.size(), 32u);
  auto record = internal::LoadRecord(dir_ / internal::kRecordFile);
  ASSERT_TRUE(record.ok());
  ASSERT_TRUE(record->passcode.has_value());
  SecureBytes stretched =
      *internal::Argon2idSlowly(AsBytes(passcode), record->passcode->salt, record->passcode->argon2);
  Bytes ikm = device;
  ikm.insert(ikm.end(), stretched.data(), stretched.data() + stretched.size());
  SecureBytes passcode_key = internal::HkdfSha256(ikm, "enclave passcode key");
  SecureBytes device_kek = internal::HkdfSha256(device, "enclave class kek: device");
  std::vector<Bytes> needles = {ToBytes(passcode), ToBytes(HexEncode(AsBytes(passcode))),
                                ToBytes(HexEncode(device)), device};
  ASSERT_EQ(record->class_keys.size(), 7u);
  for (const auto& [code, stored] : record->class_keys) {
    const bool by_passcode = code != "dk" && code != "dku";
    EXPECT_EQ(stored.wrapped_by == internal::WrappedBy::kPasscode, by_passcode) << code;
    auto key = internal::UnwrapSecret(by_passcode ? passcode_key : device_kek, AsBytes(code), stored.wrapped);
    ASSERT_TRUE(key.has_value()) << code;
    needles.emplace_back(key->data(), key->data() + key->size());
    needles.push_back(ToBytes(HexEncode(key->view())));
  }
  Bytes json = *durable::ReadFile(dir_ / internal::kRecordFile);
  Bytes describe = ToBytes(OpenOrDie()->Describe().dump());
  for (const Bytes& needle : needles) {
    EXPECT_EQ(std::search(json.begin(), json.end(), needle.begin(), needle.end()), json.end());
    EXPECT_EQ(std::search(describe.begin(), describe.end(), needle.begin(), needle.end()), describe.end());
  }
}

TEST_F(KeybagTest, CorruptedClassKeyIsClassKeyLost) {
  auto kb = OpenOrDie();
  Bytes ck = *kb->Seal(PC::kAfterFirstUnlock, kSecret, kAad);
  Bytes dk = *kb->Seal(PC::kAlways, kSecret, kAad);
  ASSERT_TRUE(kb->CorruptClassKeyForTesting(PC::kAfterFirstUnlock).ok());
  ExpectKeystore(kb->Unseal(PC::kAfterFirstUnlock, ck, kAad), aks::kBadDeviceKey, "class-key-lost");
  EXPECT_TRUE(kb->Unseal(PC::kAlways, dk, kAad).ok());
  EXPECT_EQ(kb->Describe()["classes"]["ck"], false);
  kb.reset();
  kb = OpenOrDie();
  ExpectKeystore(kb->Unseal(PC::kAfterFirstUnlock, ck, kAad), aks::kBadDeviceKey, "class-key-lost");
  ExpectKeystore(kb->Seal(PC::kAfterFirstUnlock, kSecret, kAad), aks::kBadDeviceKey, "class-key-lost");
  EXPECT_TRUE(kb->Unseal(PC::kAlways, dk, kAad).ok());
  // Setting a passcode re-wraps the healthy classes and leaves the lost one lost.
  ASSERT_TRUE(kb->SetPasscode(std::nullopt, Pass("1234")).ok());
  ExpectKeystore(kb->Unseal(PC::kAfterFirstUnlock, ck, kAad), aks::kBadDeviceKey, "class-key-lost");
  EXPECT_TRUE(kb->Unseal(PC::kAlways, dk, kAad).ok());
}

TEST_F(KeybagTest, DamagedRecordIsReportedNotReplaced) {
  OpenOrDie();
  ASSERT_TRUE(durable::WriteFileAtomic(dir_ / internal::kRecordFile, AsBytes("{not json")).ok());
  auto kb = Keybag::Open(dir_, TestOptions());
  ExpectKeystore(kb, aks::kBadDeviceKey, "class-key-lost");
}

// Found by keybag_record_fuzzer: numbers that are not exact integers of the field's type were
// truncated, wrapped (2^32 + 2 read as t_cost 2) or, for 1e300, converted with undefined
// behaviour, instead of marking the file damaged.
TEST(KeybagRecordTest, NumbersThatAreNotExactIntegersOfTheFieldAreDamage) {
  const std::string good =
      R"({"format": 1, "passcode": {"kdf": "argon2id", "salt": "abababababababababababababababab",)"
      R"( "t_cost": 2, "m_cost_kib": 19456, "parallelism": 1, "verifier": "cdcdcdcdcdcdcdcd"},)"
      R"( "class_keys": {"ak": {"wrapped_by": "passcode", "wrapped": "2222222222222222"}},)"
      R"( "failed_attempts": 4, "last_failure_time": 0, "retry_after_time": 1700000000,)"
      R"( "lockout_until_time": 0, "locked": true})";
  ASSERT_TRUE(internal::ParseRecord(AsBytes(good)).ok());
  const std::pair<std::string, std::string> hostile[] = {
      {R"("t_cost": 2,)", R"("t_cost": 4294967298,)"},
      {R"("t_cost": 2,)", R"("t_cost": 2.5,)"},
      {R"("t_cost": 2,)", R"("t_cost": 1e300,)"},
      {R"("t_cost": 2,)", R"("t_cost": -1,)"},
      {R"("format": 1,)", R"("format": 1.0,)"},
      {R"("failed_attempts": 4,)", R"("failed_attempts": 4294967300,)"},
      {R"("failed_attempts": 4,)", R"("failed_attempts": 4.9,)"},
      {R"("retry_after_time": 1700000000,)", R"("retry_after_time": 1e300,)"},
      {R"("retry_after_time": 1700000000,)", R"("retry_after_time": 18446744073709551615,)"},
  };
  for (const auto& [from, to] : hostile) {
    std::string text = good;
    text.replace(text.find(from), from.size(), to);
    SCOPED_TRACE(to);
    ExpectKeystore(internal::ParseRecord(AsBytes(text)), aks::kBadDeviceKey, "class-key-lost");
  }
}

TEST_F(KeybagTest, ConcurrentUseWhileLockingIsConsistent) {
  auto kb = OpenOrDie();
  Bytes ak = *kb->Seal(PC::kWhenUnlocked, kSecret, kAad);
  std::atomic<bool> stop{false};
  std::atomic<int> unexpected{0};
  std::vector<std::thread> users;
  for (int t = 0; t < 3; ++t) {
    users.emplace_back([&] {
      while (!stop) {
        auto r = kb->Unseal(PC::kWhenUnlocked, ak, kAad);
        if (!r.ok() && r.error().effective_cause() != "device-locked") ++unexpected;
        if (r.ok() && ToString(r->view()) != ToString(kSecret)) ++unexpected;
      }
    });
  }
  for (int i = 0; i < 10; ++i) {
    kb->Lock();
    ASSERT_TRUE(kb->Unlock(Pass("")).ok());
  }
  stop = true;
  for (auto& t : users) t.join();
  EXPECT_EQ(unexpected, 0);
}

}  // namespace
}  // namespace enclave::keybag::testing
