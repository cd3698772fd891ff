// Faults under every durable write: for each operation that changes persistent state, fail or
// "crash" (common/durable_io.h) at its N-th write, sync, rename or removal, for every N the
// operation performs, then reopen the enclave from disk. It must come back consistent: the old
// state or the new one, a passcode that opens the keybag, every key that is listed signing, and
// nothing acknowledged lost.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "common/durable_io.h"
#include "service/test/fixture.h"

namespace enclave::service::testing {
namespace {

namespace fs = std::filesystem;
using durable::FaultPlan;

constexpr char kOld[] = "246810";
constexpr char kNew[] = "135791";

// What the operation promised: the labels that must be present (and sign), those that must be
// gone, and the passcodes of which one must open the keybag.
struct Expectation {
  std::set<std::string> present;
  std::set<std::string> absent;
  std::vector<std::string> passcodes;  // empty string: no passcode set
};

struct Scenario {
  std::function<void(class DurabilityTest&)> setup;
  std::function<Status(class DurabilityTest&)> op;
  Expectation before;  // the state if the operation did not happen
  Expectation after;   // the state once it was acknowledged
};

class DurabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = MakeTempDir("enclave-durability");
    template_ = MakeTempDir("enclave-durability-template");
  }
  void TearDown() override {
    durable::Disarm();
    Close();
    tpm_.reset();
    fs::remove_all(home_);
    fs::remove_all(template_);
  }

 public:
  void Close() {
    session_.reset();
    enclave_.reset();
  }
  Status Open() {
    Close();
    EnclaveOptions options;
    options.home = home_;
    options.debug = true;
    auto e = Enclave::Open(options);
    if (!e.ok()) return e.error();
    enclave_ = std::move(e).value();
    session_ = enclave_->OpenSession(Peer{static_cast<uint32_t>(::getuid()), static_cast<uint32_t>(::getpid()), "test"});
    return Ok();
  }
  Result<nlohmann::json> Admin(const std::string& command, nlohmann::json args = nlohmann::json::object(),
                               std::vector<std::string> secrets = {}) {
    std::vector<SecureBytes> s;
    for (const auto& x : secrets) s.emplace_back(AsBytes(x));
    return session_->Admin(command, args, s);
  }
  Status Create(const std::string& label, const std::string& accessible = "when-unlocked-this-device-only") {
    KeySpec s;
    s.token = "soft";
    s.application_label = ToBytes(label);
    s.accessible = accessible;
    s.access_control = {"private-key-usage"};
    auto k = session_->CreateKey(s);
    if (!k.ok()) return k.error();
    return Ok();
  }
  static KeyQuery ByLabel(const std::string& label) {
    KeyQuery q;
    q.application_label = ToBytes(label);
    return q;
  }
  Status Sign(const std::string& label) {
    AuthOptions auth;
    auto r = session_->Sign(ByLabel(label), "ecdsa-signature-message-x962-sha256", ToBytes("m"), auth);
    if (!r.ok()) return r.error();
    return Ok();
  }
  bool Present(const std::string& label) { return session_->FindKeys(ByLabel(label)).ok(); }

  void SaveTemplate() {
    Close();
    fs::remove_all(template_);
    fs::copy(home_, template_, fs::copy_options::recursive);
  }
  void RestoreTemplate() {
    Close();
    fs::remove_all(home_);
    fs::copy(template_, home_, fs::copy_options::recursive);
  }

  // The state on disk (or in memory when `reopen` is false) is `before` or `after`.
  void CheckConsistent(const Scenario& sc, bool acknowledged, bool reopen, const std::string& where) {
    SCOPED_TRACE(where);
    if (reopen) {
      Status opened = Open();
      ASSERT_TRUE(opened.ok()) << "the enclave does not reopen: " << opened.error().ToString();
    }
    auto report = Admin("doctor");
    ASSERT_TRUE(report.ok());
    EXPECT_TRUE((*report)["database"]["ok"].get<bool>()) << (*report)["database"].dump();
    // Which passcode opens it tells which state the keybag is in.
    std::vector<std::string> candidates = sc.after.passcodes;
    if (!acknowledged) candidates.insert(candidates.begin(), sc.before.passcodes.begin(), sc.before.passcodes.end());
    const bool passcode_set = (*report)["keybag"]["passcode_set"].get<bool>();
    std::string opened_with = "?";
    for (const auto& p : candidates) {
      if (p.empty() != !passcode_set) continue;
      if (Admin("unlock", {}, p.empty() ? std::vector<std::string>{} : std::vector<std::string>{p}).ok()) {
        opened_with = p;
        break;
      }
    }
    ASSERT_NE(opened_with, "?") << "no expected passcode opens the keybag (passcode set: " << passcode_set << ")";
    const bool in_after = std::find(sc.after.passcodes.begin(), sc.after.passcodes.end(), opened_with) !=
                          sc.after.passcodes.end();
    const bool in_before = std::find(sc.before.passcodes.begin(), sc.before.passcodes.end(), opened_with) !=
                           sc.before.passcodes.end();
    // Keys: what the state promises, and every listed key must sign (doctor: none invalid).
    std::set<std::string> must, mustnt;
    if (acknowledged) {
      must = sc.after.present;
      mustnt = sc.after.absent;
    } else {
      for (const auto& l : sc.before.present) {
        if (sc.after.present.count(l)) must.insert(l);
      }
      for (const auto& l : sc.before.absent) {
        if (sc.after.absent.count(l)) mustnt.insert(l);
      }
      // A passcode state that is clearly one side also settles the keys that go with it.
      // (In the same process a failed write may leave that to the next start.)
      if (in_after && !in_before && reopen) {
        for (const auto& l : sc.after.absent) mustnt.insert(l);
      }
    }
    for (const auto& l : must) EXPECT_TRUE(Sign(l).ok()) << "acknowledged key " << l << " does not sign";
    for (const auto& l : mustnt) EXPECT_FALSE(Present(l)) << l << " should be gone";
    if (!reopen) return;  // a failed write may leave cleanup to the next start
    auto after = Admin("doctor");
    ASSERT_TRUE(after.ok());
    EXPECT_EQ((*after)["summary"]["permanently_invalid"], 0) << after->dump(1);
    EXPECT_EQ((*after)["summary"]["unavailable_now"], 0) << after->dump(1);
  }

  // Runs the operation once to count its durable operations, then fails and crashes at each.
  void Exhaust(const Scenario& sc) {
    ASSERT_TRUE(Open().ok());
    sc.setup(*this);
    SaveTemplate();

    RestoreTemplate();
    ASSERT_TRUE(Open().ok());
    durable::Arm({FaultPlan::Mode::kCount, 0});
    Status clean = sc.op(*this);
    const int64_t total = durable::OpsSeen();
    durable::Disarm();
    ASSERT_TRUE(clean.ok()) << clean.error().ToString();
    ASSERT_GT(total, 0) << "the operation wrote nothing through the seam";
    CheckConsistent(sc, true, true, "no fault");

    for (int64_t n = 1; n <= total; ++n) {
      for (auto mode : {FaultPlan::Mode::kFail, FaultPlan::Mode::kCrash}) {
        const bool crash = mode == FaultPlan::Mode::kCrash;
        const std::string where = std::string(crash ? "crash" : "failure") + " at durable operation " +
                                  std::to_string(n) + " of " + std::to_string(total);
        RestoreTemplate();
        ASSERT_TRUE(Open().ok()) << where;
        durable::Arm({mode, n});
        Status st = sc.op(*this);
        const bool fired = durable::Fired();
        if (crash) {
          Close();  // the process dies: nothing in memory survives, nothing more is written
          durable::Disarm();
        } else {
          durable::Disarm();
          CheckConsistent(sc, st.ok(), false, where + " (same process)");
          if (HasFatalFailure()) return;
        }
        EXPECT_TRUE(fired || st.ok()) << where;
        CheckConsistent(sc, st.ok() && !crash, true, where + " (reopened)");
        if (HasFatalFailure()) return;
      }
    }
  }

  fs::path home_, template_;
  std::unique_ptr<Enclave> enclave_;
  std::unique_ptr<Session> session_;
  std::unique_ptr<enclave::testing::SwtpmProcess> tpm_;
};

#define EXPECT_OK(x)                                     \
  do {                                                   \
    auto _s = (x);                                       \
    ASSERT_TRUE(_s.ok()) << _s.error().ToString();       \
  } while (0)

TEST_F(DurabilityTest, PasscodeSet) {
  Exhaust({[](DurabilityTest& t) {
             EXPECT_OK(t.Create("k1"));
             EXPECT_OK(t.Create("k2", "always-this-device-only"));
           },
           [](DurabilityTest& t) -> Status {
             auto r = t.Admin("passcode.set", {}, {kOld});
             if (!r.ok()) return r.error();
             return Ok();
           },
           {{"k1", "k2"}, {}, {""}},
           {{"k1", "k2"}, {}, {kOld}}});
}

TEST_F(DurabilityTest, PasscodeChange) {
  Exhaust({[](DurabilityTest& t) {
             EXPECT_OK(t.Admin("passcode.set", {}, {kOld}));
             EXPECT_OK(t.Create("k1"));
             EXPECT_OK(t.Create("kp", "when-passcode-set-this-device-only"));
           },
           [](DurabilityTest& t) -> Status {
             auto r = t.Admin("passcode.change", {}, {kOld, kNew});
             if (!r.ok()) return r.error();
             return Ok();
           },
           {{"k1", "kp"}, {}, {kOld}},
           {{"k1", "kp"}, {}, {kNew}}});
}

TEST_F(DurabilityTest, PasscodeRemove) {
  Exhaust({[](DurabilityTest& t) {
             EXPECT_OK(t.Admin("passcode.set", {}, {kOld}));
             EXPECT_OK(t.Create("k1"));
             EXPECT_OK(t.Create("kp", "when-passcode-set-this-device-only"));
           },
           [](DurabilityTest& t) -> Status {
             auto r = t.Admin("passcode.remove", {}, {kOld});
             if (!r.ok()) return r.error();
             return Ok();
           },
           {{"k1", "kp"}, {}, {kOld}},
           {{"k1"}, {"kp"}, {""}}});
}

TEST_F(DurabilityTest, KeyCreate) {
  Exhaust({[](DurabilityTest& t) { EXPECT_OK(t.Create("k1")); },
           [](DurabilityTest& t) { return t.Create("k2"); },
           {{"k1"}, {"k2"}, {""}},
           {{"k1", "k2"}, {}, {""}}});
}

TEST_F(DurabilityTest, KeyDelete) {
  Exhaust({[](DurabilityTest& t) {
             EXPECT_OK(t.Create("k1"));
             EXPECT_OK(t.Create("k2"));
           },
           [](DurabilityTest& t) -> Status {
             auto r = t.session_->DeleteKeys(ByLabel("k1"));
             if (!r.ok()) return r.error();
             return Ok();
           },
           {{"k1", "k2"}, {}, {""}},
           {{"k2"}, {"k1"}, {""}}});
}

TEST_F(DurabilityTest, KeyUpdate) {
  Exhaust({[](DurabilityTest& t) { EXPECT_OK(t.Create("k1")); },
           [](DurabilityTest& t) -> Status {
             KeyChanges c;
             c.label = "renamed";
             auto r = t.session_->UpdateKeys(ByLabel("k1"), c);
             if (!r.ok()) return r.error();
             return Ok();
           },
           {{"k1"}, {}, {""}},
           {{"k1"}, {}, {""}}});
}

TEST_F(DurabilityTest, Reenroll) {
  Exhaust({[](DurabilityTest& t) {
             EXPECT_OK(t.Admin("passcode.set", {}, {kOld}));
             EXPECT_OK(t.Create("k1"));
           },
           [](DurabilityTest& t) -> Status {
             auto r = t.session_->Reenroll(ByLabel("k1"), AuthOptions{});
             if (!r.ok()) return r.error();
             return Ok();
           },
           {{"k1"}, {}, {kOld}},
           {{"k1"}, {}, {kOld}}});
}

// Keybag re-creation: configuring a TPM on an empty enclave writes config.json and moves the
// device secret into the TPM (the old keybag files aside, a new keybag written).
TEST_F(DurabilityTest, KeybagRecreationWhenSealingWithTpm) {
  if (!enclave::testing::SwtpmProcess::FindBinary()) GTEST_SKIP() << "swtpm is not installed";
  tpm_ = std::make_unique<enclave::testing::SwtpmProcess>();
  ASSERT_TRUE(tpm_->Start());
  const std::string tcti = tpm_->Tcti();
  Exhaust({[](DurabilityTest&) {},
           [tcti](DurabilityTest& t) -> Status {
             auto r = t.Admin("config.set", {{"key", "tpm2-tcti"}, {"value", tcti}});
             if (!r.ok()) return r.error();
             // The re-created keybag must protect new keys.
             RETURN_IF_ERROR(t.Create("after"));
             return t.Sign("after");
           },
           {{}, {}, {""}},
           {{"after"}, {}, {""}}});
}

}  // namespace
}  // namespace enclave::service::testing
