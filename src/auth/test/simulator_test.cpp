#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "auth/provider.h"
#include "auth/test/temp_dir.h"

namespace enclave::auth {
namespace {

class SimulatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sim = BiometrySimulator::Open(dir_.file("sim.json"));
    ASSERT_TRUE(sim.ok()) << sim.error().ToString();
    sim_ = std::move(sim).value();
  }
  BiometryState State() {
    auto s = sim_->State();
    EXPECT_TRUE(s.ok());
    return s.ok() ? *s : BiometryState{};
  }

  testing::TempDir dir_;
  std::unique_ptr<BiometrySimulator> sim_;
};

TEST_F(SimulatorTest, StateFileIsPrivate) {
  struct stat st {};
  ASSERT_EQ(::stat(dir_.file("sim.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(SimulatorTest, StartsAvailableWithADatabaseAndNoFinger) {
  BiometryState s = State();
  EXPECT_TRUE(s.available);
  EXPECT_TRUE(s.enrolled.empty());
  EXPECT_EQ(s.database_id.size(), 32u);
  EXPECT_TRUE(s.detects_set_changes);
  Status auth = sim_->AuthenticateSlowly("Verify your identity");
  ASSERT_FALSE(auth.ok());
  EXPECT_EQ(auth.error().domain, domain::kLocalAuthentication);
  EXPECT_EQ(auth.error().code, laerror::kBiometryNotEnrolled);
}

TEST_F(SimulatorTest, EnrollChangesTheSetButNotTheDatabase) {
  const BiometryState before = State();
  ASSERT_TRUE(sim_->Enroll("right-index").ok());
  const BiometryState one = State();
  EXPECT_EQ(one.enrolled, std::vector<std::string>{"right-index"});
  EXPECT_EQ(one.database_id, before.database_id);
  EXPECT_NE(one.enrolled_set_hash, before.enrolled_set_hash);

  // The same name enrolled again is a new template.
  ASSERT_TRUE(sim_->Enroll("right-index").ok());
  const BiometryState again = State();
  EXPECT_EQ(again.enrolled, std::vector<std::string>{"right-index"});
  EXPECT_NE(again.enrolled_set_hash, one.enrolled_set_hash);

  ASSERT_TRUE(sim_->Enroll("left-thumb").ok());
  const BiometryState two = State();
  ASSERT_TRUE(sim_->Unenroll("left-thumb").ok());
  EXPECT_EQ(State().enrolled_set_hash, again.enrolled_set_hash)
      << "removing the added finger restores the set";
  EXPECT_NE(two.enrolled_set_hash, again.enrolled_set_hash);
  EXPECT_FALSE(sim_->Unenroll("left-thumb").ok());
}

TEST_F(SimulatorTest, ResetMakesANewDatabase) {
  ASSERT_TRUE(sim_->Enroll("right-index").ok());
  const BiometryState before = State();
  ASSERT_TRUE(sim_->Reset().ok());
  const BiometryState after = State();
  EXPECT_NE(after.database_id, before.database_id);
  EXPECT_TRUE(after.enrolled.empty());
}

TEST_F(SimulatorTest, AnswersFollowTheToggles) {
  ASSERT_TRUE(sim_->Enroll("right-index").ok());
  EXPECT_TRUE(sim_->AuthenticateSlowly("Verify your identity").ok());
  EXPECT_EQ(sim_->Describe()["last_prompt"], "Verify your identity");

  ASSERT_TRUE(sim_->SetNextResult(BiometrySimulator::NextResult::kNoMatch).ok());
  Status s = sim_->AuthenticateSlowly("p");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, laerror::kAuthenticationFailed);

  ASSERT_TRUE(sim_->SetNextResult(BiometrySimulator::NextResult::kCancel).ok());
  s = sim_->AuthenticateSlowly("p");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, laerror::kUserCancel);

  ASSERT_TRUE(sim_->SetNextResult(BiometrySimulator::NextResult::kLockout).ok());
  s = sim_->AuthenticateSlowly("p");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, laerror::kBiometryLockout);
  EXPECT_TRUE(State().locked_out);

  ASSERT_TRUE(sim_->SetNextResult(BiometrySimulator::NextResult::kMatch).ok());
  EXPECT_TRUE(sim_->AuthenticateSlowly("p").ok());
  EXPECT_EQ(sim_->Describe()["prompts"], 4);
}

TEST_F(SimulatorTest, StateSurvivesReopenAndChangesByAnotherInstanceAreSeen) {
  ASSERT_TRUE(sim_->Enroll("right-index").ok());
  auto other = BiometrySimulator::Open(dir_.file("sim.json"));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ((*other)->State()->database_id, State().database_id);
  ASSERT_TRUE((*other)->SetNextResult(BiometrySimulator::NextResult::kNoMatch).ok());
  Status s = sim_->AuthenticateSlowly("p");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, laerror::kAuthenticationFailed);
}

TEST_F(SimulatorTest, CorruptStateIsAnErrorNotAReset) {
  std::ofstream(dir_.file("sim.json")) << "{not json";
  EXPECT_FALSE(sim_->State().ok());
  EXPECT_FALSE(BiometrySimulator::Open(dir_.file("sim.json")).ok());
}

}  // namespace
}  // namespace enclave::auth
