// Decodes an error as users paste it — enclave's own JSON errors, or the phone platform's
// textual forms (`Error Domain=CryptoTokenKit Code=-3 "…" UserInfo={… AKSError=-536362999}`,
// `OSStatus error -25293`, `errSecItemNotFound`, `0xe007c009`, `LAErrorBiometryLockout`, TPM
// response codes) — into catalogued codes with their meaning, likely causes and remedy.
// Needs no daemon: everything comes from the error catalog.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error_catalog.h"

namespace enclave::explain {

struct DecodedCode {
  std::string domain;
  int64_t code = 0;
  std::string name;
  std::string meaning;
  std::vector<catalog::CauseEntry> causes;  // most likely first
};

struct Explanation {
  std::string input;
  std::vector<DecodedCode> codes;  // outermost first, in the order they appear
  std::optional<std::string> kid;  // when the text names a key (`kid=…`)
  // The most likely cause over all decoded codes (an explicit cause in our JSON wins).
  std::optional<catalog::CauseEntry> cause;
  std::string summary;  // one sentence; says so honestly when nothing was recognised
  std::string remedy;   // remedy id of `cause` ("reenroll", "unlock", ...); empty if unknown
  std::string remedy_text;

  bool recognized() const { return !codes.empty(); }
};

Explanation Explain(std::string_view text);

// {"input","codes":[{"domain","code","name","meaning","causes":[{"id","permanence","remedy","meaning"}]}],
//  "kid","cause","permanence","summary","remedy","remedy_text","recognized"}
nlohmann::json ToJson(const Explanation& e);
// Multi-line human-readable form.
std::string ToText(const Explanation& e);

// What a remedy id asks the user to do, in one sentence.
std::string RemedyText(std::string_view remedy);

}  // namespace enclave::explain
