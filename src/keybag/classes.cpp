// The protection classes and their names: the CLI's names and the phone platform's pdmn codes.
#include "keybag/keybag.h"

namespace enclave::keybag {

namespace {
struct ClassNames {
  ProtectionClass c;
  const char* cli_name;
  const char* code;
};
constexpr ClassNames kNames[] = {
    {ProtectionClass::kWhenUnlocked, "when-unlocked", "ak"},
    {ProtectionClass::kAfterFirstUnlock, "after-first-unlock", "ck"},
    {ProtectionClass::kAlways, "always", "dk"},
    {ProtectionClass::kWhenUnlockedThisDeviceOnly, "when-unlocked-this-device-only", "aku"},
    {ProtectionClass::kAfterFirstUnlockThisDeviceOnly, "after-first-unlock-this-device-only", "cku"},
    {ProtectionClass::kAlwaysThisDeviceOnly, "always-this-device-only", "dku"},
    {ProtectionClass::kWhenPasscodeSetThisDeviceOnly, "when-passcode-set-this-device-only", "akpu"},
};

const ClassNames& NamesOf(ProtectionClass c) {
  for (const auto& n : kNames) {
    if (n.c == c) return n;
  }
  return kNames[0];  // unreachable: every enumerator is in the table
}
}  // namespace

const std::vector<ProtectionClass>& AllProtectionClasses() {
  static const std::vector<ProtectionClass> all = [] {
    std::vector<ProtectionClass> v;
    for (const auto& n : kNames) v.push_back(n.c);
    return v;
  }();
  return all;
}

Result<ProtectionClass> ParseAccessible(std::string_view name) {
  std::string known;
  for (const auto& n : kNames) {
    // The platform codes are accepted too, so stored rows and scripts can use either.
    if (name == n.cli_name || name == n.code) return n.c;
    known += known.empty() ? "" : ", ";
    known += n.cli_name;
  }
  return OSStatusError(errsec::kParam,
                       "unknown accessibility \"" + std::string(name) + "\"; expected one of: " + known)
      .WithCause("bad-parameter");
}

std::string AccessibleName(ProtectionClass c) { return NamesOf(c).cli_name; }
std::string PlatformCode(ProtectionClass c) { return NamesOf(c).code; }

}  // namespace enclave::keybag
