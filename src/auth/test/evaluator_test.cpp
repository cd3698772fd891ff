#include <gtest/gtest.h>

#include "auth/provider.h"
#include "auth/test/temp_dir.h"

namespace enclave::auth {
namespace {

using Next = BiometrySimulator::NextResult;

AccessPolicy Policy(const std::vector<std::string>& names) {
  auto p = AccessPolicy::FromNames(names);
  EXPECT_TRUE(p.ok()) << p.error().ToString();
  return p.ok() ? *p : AccessPolicy{};
}

SecureBytes Secret(std::string_view s) { return SecureBytes(AsBytes(s)); }

class EvaluatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sim = BiometrySimulator::Open(dir_.file("sim.json"));
    ASSERT_TRUE(sim.ok()) << sim.error().ToString();
    sim_ = std::move(sim).value();
    deps_.biometry = sim_.get();
    deps_.passcode_set = true;
    deps_.verify_passcode = [this](const SecureBytes& p) -> Status {
      ++passcode_checks_;
      if (p == Secret("1234")) return Ok();
      return KeystoreError(aks::kBadPassword, "wrong passcode").WithCause("authentication-failed");
    };
    request_.operation_prompt = "Verify your identity";
  }

  // A policy bound to the simulator's current state, as at key creation.
  AccessPolicy Bound(const std::vector<std::string>& names) {
    AccessPolicy p = Policy(names);
    Status s = BindPolicyAtCreation(p, sim_.get());
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    return p;
  }
  int64_t Prompts() { return sim_->Describe()["prompts"].get<int64_t>(); }
  Error Fails(const AccessPolicy& p) {
    auto r = Evaluate(p, request_, deps_);
    EXPECT_FALSE(r.ok()) << "evaluation succeeded";
    return r.ok() ? Error{} : r.error();
  }

  testing::TempDir dir_;
  std::unique_ptr<BiometrySimulator> sim_;
  EvaluatorDeps deps_;
  AuthRequest request_;
  int passcode_checks_ = 0;
};

TEST_F(EvaluatorTest, BindNeedsAProviderAndAnEnrolledFinger) {
  AccessPolicy p = Policy({"biometry-any", "private-key-usage"});
  Status s = BindPolicyAtCreation(p, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().domain, domain::kLocalAuthentication);
  EXPECT_EQ(s.error().code, laerror::kBiometryNotAvailable);

  s = BindPolicyAtCreation(p, sim_.get());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, laerror::kBiometryNotEnrolled);
  EXPECT_EQ(s.error().effective_cause(), "biometry-not-enrolled");

  ASSERT_TRUE(sim_->Enroll("right-index").ok());
  ASSERT_TRUE(BindPolicyAtCreation(p, sim_.get()).ok());
  EXPECT_EQ(p.biometry_database_id, sim_->State()->database_id);
  EXPECT_TRUE(p.biometry_set_hash.empty()) << "biometry-any binds the database only";

  AccessPolicy current = Policy({"biometry-current-set"});
  ASSERT_TRUE(BindPolicyAtCreation(current, sim_.get()).ok());
  EXPECT_EQ(current.biometry_set_hash, sim_->State()->enrolled_set_hash);
}

TEST_F(EvaluatorTest, CurrentSetIsRefusedByAProviderBlindToSetChanges) {
  class Blind : public BiometryProvider {
   public:
    std::string_view name() const override { return "blind"; }
    Result<BiometryState> State() override {
      BiometryState s;
      s.available = true;
      s.enrolled = {"thumb"};
      s.database_id = "db";
      s.detects_set_changes = false;
      return s;
    }
    Status AuthenticateSlowly(std::string_view) override { return Ok(); }
    std::vector<std::string> Limitations() const override { return {"cannot see re-enrollment"}; }
  } blind;
  AccessPolicy p = Policy({"biometry-current-set"});
  Status s = BindPolicyAtCreation(p, &blind);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, errsec::kParam);
  EXPECT_EQ(s.error().description,
            "biometry-current-set cannot be enforced by blind: cannot see re-enrollment");
  AccessPolicy any = Policy({"biometry-any"});
  EXPECT_TRUE(BindPolicyAtCreation(any, &blind).ok());
}

TEST_F(EvaluatorTest, StillSatisfiableUntilTheBindingBreaks) {
  ASSERT_TRUE(sim_->Enroll("right-index").ok());
  AccessPolicy any = Bound({"biometry-any", "private-key-usage"});
  AccessPolicy current = Bound({"biometry-current-set", "private-key-usage"});
  EXPECT_TRUE(CheckStillSatisfiable(any, *sim_->State()).ok());
  EXPECT_TRUE(CheckStillSatisfiable(current, *sim_->State()).ok());

  ASSERT_TRUE(sim_->Enroll("left-thumb").ok());
  EXPECT_TRUE(CheckStillSatisfiable(any, *sim_->State()).ok()) << "biometry-any survives an added finger";
  Status s = CheckStillSatisfiable(current, *sim_->State());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().domain, domain::kAKS);
  EXPECT_EQ(s.error().code, aks::kPolicyInvalid);
  EXPECT_EQ(s.error().effective_cause(), "biometry-set-changed");

  ASSERT_TRUE(sim_->Reset().ok());
  ASSERT_TRUE(sim_->Enroll("right-index").ok());
  s = CheckStillSatisfiable(any, *sim_->State());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, aks::kPolicyInvalid);
  EXPECT_EQ(s.error().effective_cause(), "biometry-database-reset");
  EXPECT_TRUE(s.error().permanently_invalid());
}

TEST_F(EvaluatorTest, InvalidPolicyFailsWithoutPrompting) {
  ASSERT_TRUE(sim_->Enroll("right-index").ok());
  AccessPolicy any = Bound({"biometry-any", "private-key-usage"});
  ASSERT_TRUE(sim_->Reset().ok());
  ASSERT_TRUE(sim_->Enroll("right-index").ok());
  Error e = Fails(any);
  EXPECT_EQ(e.code, aks::kPolicyInvalid);
  EXPECT_EQ(e.prompted, false);
  EXPECT_EQ(Prompts(), 0);
}

TEST_F(EvaluatorTest, NoConstraintsNoPrompt) {
  auto r = Evaluate(Policy({"private-key-usage"}), request_, deps_);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->prompted);
  EXPECT_TRUE(r->satisfied.empty());
}

TEST_F(EvaluatorTest, BiometryOutcomes) {
  ASSERT_TRUE(sim_->Enroll("right-index").ok());
  AccessPolicy p = Bound({"biometry-any", "private-key-usage"});

  auto r = Evaluate(p, request_, deps_);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_TRUE(r->prompted);
  EXPECT_EQ(r->satisfied, std::vector<std::string>{"biometry"});
  EXPECT_EQ(sim_->Describe()["last_prompt"], "Verify your identity");

  ASSERT_TRUE(sim_->SetNextResult(Next::kNoMatch).ok());
  Error e = Fails(p);
  EXPECT_EQ(e.domain, domain::kLocalAuthentication);
  EXPECT_EQ(e.code, laerror::kAuthenticationFailed);
  EXPECT_EQ(e.prompted, true);

  ASSERT_TRUE(sim_->SetNextResult(Next::kCancel).ok());
  e = Fails(p);
  EXPECT_EQ(e.code, laerror::kUserCancel);
  EXPECT_EQ(e.prompted, true);

  ASSERT_TRUE(sim_->SetNextResult(Next::kLockout).ok());
  e = Fails(p);
  EXPECT_EQ(e.code, laerror::kBiometryLockout);

  ASSERT_TRUE(sim_->SetNextResult(Next::kMatch).ok());
  request_.interaction_allowed = false;
  const int64_t before = Prompts();
  e = Fails(p);
  EXPECT_EQ(e.code, errsec::kInteractionNotAllowed);
  EXPECT_EQ(e.prompted, false);
  EXPECT_EQ(Prompts(), before);
}

TEST_F(EvaluatorTest, BiometryWithoutProvider) {
  AccessPolicy p = Policy({"biometry-any"});
  p.biometry_database_id = "db";
  deps_.biometry = nullptr;
  Error e = Fails(p);
  EXPECT_EQ(e.code, laerror::kBiometryNotAvailable);
  EXPECT_EQ(e.prompted, false);
}

TEST_F(EvaluatorTest, PasscodePaths) {
  AccessPolicy p = Policy({"device-passcode", "private-key-usage"});

  Error e = Fails(p);
  EXPECT_EQ(e.domain, domain::kOSStatus);
  EXPECT_EQ(e.code, errsec::kAuthNeeded);
  EXPECT_EQ(e.user_info["needs"], "passcode");
  EXPECT_EQ(e.user_info["prompt"], "Verify your identity");
  EXPECT_EQ(e.prompted, false);

  request_.interaction_allowed = false;
  e = Fails(p);
  EXPECT_EQ(e.code, errsec::kInteractionNotAllowed);
  request_.interaction_allowed = true;

  request_.passcode = Secret("0000");
  e = Fails(p);
  EXPECT_EQ(e.code, aks::kBadPassword);
  EXPECT_EQ(e.prompted, true);

  request_.passcode = Secret("1234");
  auto r = Evaluate(p, request_, deps_);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->satisfied, std::vector<std::string>{"passcode"});

  deps_.passcode_set = false;
  e = Fails(p);
  EXPECT_EQ(e.domain, domain::kLocalAuthentication);
  EXPECT_EQ(e.code, laerror::kPasscodeNotSet);
}

TEST_F(EvaluatorTest, UserPresencePrefersBiometryAndFallsBackToPasscode) {
  AccessPolicy p = Policy({"user-presence"});
  // No finger: the passcode is asked for.
  Error e = Fails(p);
  EXPECT_EQ(e.code, errsec::kAuthNeeded);
  request_.passcode = Secret("1234");
  auto r = Evaluate(p, request_, deps_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->satisfied, std::vector<std::string>{"passcode"});
  EXPECT_EQ(Prompts(), 0);

  request_.passcode.reset();
  ASSERT_TRUE(sim_->Enroll("right-index").ok());
  r = Evaluate(p, request_, deps_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->satisfied, std::vector<std::string>{"biometry"});
  EXPECT_EQ(Prompts(), 1);

  // Locked-out biometry falls back to the passcode, as on the phone.
  ASSERT_TRUE(sim_->SetNextResult(Next::kLockout).ok());
  e = Fails(p);
  EXPECT_EQ(e.code, errsec::kAuthNeeded);
}

TEST_F(EvaluatorTest, OrNeedsOneAndNeedsAll) {
  ASSERT_TRUE(sim_->Enroll("right-index").ok());
  AccessPolicy either = Bound({"biometry-any", "device-passcode", "or"});
  AccessPolicy both = Bound({"biometry-any", "device-passcode", "and"});
  AccessPolicy implicit_and = Bound({"biometry-any", "device-passcode"});

  auto r = Evaluate(either, request_, deps_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->satisfied, std::vector<std::string>{"biometry"});
  EXPECT_EQ(passcode_checks_, 0);

  for (const AccessPolicy* p : {&both, &implicit_and}) {
    // The passcode is asked for before anyone touches the reader.
    const int64_t before = Prompts();
    Error e = Fails(*p);
    EXPECT_EQ(e.code, errsec::kAuthNeeded);
    EXPECT_EQ(Prompts(), before);
    request_.passcode = Secret("1234");
    r = Evaluate(*p, request_, deps_);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->satisfied, (std::vector<std::string>{"passcode", "biometry"}));
    ASSERT_TRUE(sim_->SetNextResult(Next::kNoMatch).ok());
    e = Fails(*p);
    EXPECT_EQ(e.code, laerror::kAuthenticationFailed);
    EXPECT_EQ(e.prompted, true);
    ASSERT_TRUE(sim_->SetNextResult(Next::kMatch).ok());
    request_.passcode.reset();
  }

  // With a supplied passcode, `or` needs no finger at all.
  ASSERT_TRUE(sim_->SetNextResult(Next::kNoMatch).ok());
  request_.passcode = Secret("1234");
  r = Evaluate(either, request_, deps_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->satisfied, std::vector<std::string>{"passcode"});
}

TEST_F(EvaluatorTest, ContextReuseSkipsThePrompt) {
  ASSERT_TRUE(sim_->Enroll("right-index").ok());
  AccessPolicy p = Bound({"biometry-any", "private-key-usage"});
  request_.already_satisfied = {"biometry"};
  ASSERT_TRUE(sim_->SetNextResult(Next::kNoMatch).ok());
  auto r = Evaluate(p, request_, deps_);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->prompted);
  EXPECT_EQ(Prompts(), 0);

  // A reused context never revives a key whose binding is gone.
  ASSERT_TRUE(sim_->Reset().ok());
  ASSERT_TRUE(sim_->Enroll("right-index").ok());
  EXPECT_EQ(Fails(p).code, aks::kPolicyInvalid);
}

TEST_F(EvaluatorTest, ApplicationPassword) {
  AccessPolicy p = Policy({"application-password", "private-key-usage"});
  p.application_password_hash = AccessPolicy::HashApplicationPassword(AsBytes("app secret"));
  Error e = Fails(p);
  EXPECT_EQ(e.code, errsec::kAuthNeeded);
  EXPECT_EQ(e.user_info["needs"], "application-password");
  request_.application_password = Secret("wrong");
  e = Fails(p);
  EXPECT_EQ(e.code, errsec::kAuthFailed);
  request_.application_password = Secret("app secret");
  auto r = Evaluate(p, request_, deps_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->satisfied, std::vector<std::string>{"application-password"});
}

}  // namespace
}  // namespace enclave::auth
