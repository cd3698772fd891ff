// The CK_RV table: one row per cause of the error catalog, and docs/pkcs11.md says the same.
#include "pkcs11/errors.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

namespace enclave::pkcs11 {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Pkcs11Errors, EveryCatalogCauseHasExactlyOneRow) {
  const auto catalog = nlohmann::json::parse(ReadAll(ENCLAVE_SOURCE_DIR "/../../errors/catalog.json"));
  // A relying party's reasons (`"source": "relying-party"`) come over HTTP to `enclave rp`, never
  // from the daemon: the module cannot meet them and has no row for them.
  std::set<std::string> causes;
  for (const auto& c : catalog["causes"]) {
    if (c.value("source", "") != "relying-party") causes.insert(c["id"].get<std::string>());
  }
  ASSERT_GT(causes.size(), 40u);
  std::map<std::string, int> rows;
  for (const auto& row : ErrorTable()) rows[row.cause]++;
  for (const auto& c : causes) EXPECT_EQ(rows[c], 1) << c;
  for (const auto& [c, n] : rows)
    EXPECT_TRUE(causes.count(c)) << c << " is not a device cause of the catalog";
}

TEST(Pkcs11Errors, DocsTableMatchesTheCode) {
  const std::string doc = ReadAll(ENCLAVE_SOURCE_DIR "/../../docs/pkcs11.md");
  ASSERT_FALSE(doc.empty());
  // Rows look like: | `device-locked` | `CKR_USER_NOT_LOGGED_IN` | ...
  std::map<std::string, std::string> documented;
  const std::regex row(R"(\|\s*`([a-z0-9-]+)`\s*\|\s*`(CKR_[A-Z_]+)`\s*\|)");
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), row); it != std::sregex_iterator(); ++it) {
    documented[(*it)[1]] = (*it)[2];
  }
  EXPECT_EQ(documented.size(), ErrorTable().size());
  for (const auto& r : ErrorTable()) EXPECT_EQ(documented[r.cause], r.rv_name) << r.cause;
}

TEST(Pkcs11Errors, CauseDecidesTheCode) {
  EXPECT_EQ(ToCkr(AuthError(laerror::kAuthenticationFailed, "no").WithCause("authentication-failed")),
            CKR_PIN_INCORRECT);
  EXPECT_EQ(ToCkr(OSStatusError(errsec::kAuthFailed, "wait").WithCause("passcode-attempts-exceeded")),
            CKR_PIN_LOCKED);
  EXPECT_EQ(ToCkr(TokenError(tkerror::kCorruptedData, "dead").WithCause("biometry-database-reset")),
            CKR_KEY_FUNCTION_NOT_PERMITTED);
  EXPECT_EQ(ToCkr(OSStatusError(errsec::kUserCanceled, "cancel")), CKR_FUNCTION_CANCELED);
}

}  // namespace
}  // namespace enclave::pkcs11
