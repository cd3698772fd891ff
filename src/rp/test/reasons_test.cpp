// The relying party's reasons are the device's causes: what enclave-rpd answers is what
// `enclave rp` reports (domain RelyingParty, code = the HTTP status, cause = the reason), so each
// reason must be in the error catalog, with a permanence and remedy, under the status it has.
#include "rp/reasons.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/error_catalog.h"

namespace enclave::rp {
namespace {

TEST(ReasonsTest, EveryReasonIsACatalogCauseUnderItsStatus) {
  const auto reasons = KnownReasons();
  ASSERT_GT(reasons.size(), 25u);
  for (const auto& [reason, status] : reasons) {
    const auto& cause = catalog::Lookup(reason);
    EXPECT_EQ(cause.id, reason) << reason << " is not a cause in errors/catalog.json";
    const catalog::CodeEntry* code = catalog::FindCode("RelyingParty", status);
    ASSERT_NE(code, nullptr) << "no RelyingParty code " << status << " (for " << reason << ")";
    EXPECT_NE(std::find(code->causes.begin(), code->causes.end(), reason), code->causes.end())
        << reason << " is not listed under RelyingParty " << status;
  }
}

TEST(ReasonsTest, AnUnknownReasonIsAServerFailure) { EXPECT_EQ(HttpStatusOf("no-such-reason"), 500); }

TEST(ReasonsTest, ADeadCredentialTellsTheDeviceToReenroll) {
  // The field report's remedy: the server's answer for a dead key must say what to do.
  EXPECT_EQ(catalog::Lookup(reason::kCredentialDead).remedy, "reenroll");
  EXPECT_EQ(catalog::Lookup(reason::kCredentialDead).permanence, "permanent");
  EXPECT_EQ(catalog::Lookup(reason::kChallengeExpired).permanence, "transient");
}

}  // namespace
}  // namespace enclave::rp
