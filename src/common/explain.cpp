#include "common/explain.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>
#include <set>
#include <utility>

#include "common/error.h"

namespace enclave::explain {
namespace {

// Pasted text beyond this is not an error message; cutting keeps the regexes cheap.
constexpr size_t kMaxInput = 64 * 1024;

struct Hit {
  size_t pos = 0;
  std::string domain;  // empty: domain unknown, match by number
  int64_t code = 0;
};

// Domain spellings seen in the wild, to our domain names.
std::string NormalizeDomain(std::string_view d) {
  static const std::map<std::string, std::string, std::less<>> kDomains = {
      {"NSOSStatusErrorDomain", domain::kOSStatus},
      {"OSStatus", domain::kOSStatus},
      {"CryptoTokenKit", domain::kCryptoTokenKit},
      {"com.apple.CryptoTokenKit", domain::kCryptoTokenKit},
      {"TKErrorDomain", domain::kCryptoTokenKit},
      {"LocalAuthentication", domain::kLocalAuthentication},
      {"com.apple.LocalAuthentication", domain::kLocalAuthentication},
      {"LAErrorDomain", domain::kLocalAuthentication},
      {"AKS", domain::kAKS},
      {"AppleKeyStore", domain::kAKS},
      {"TPM", domain::kTPM},
  };
  auto it = kDomains.find(d);
  return it == kDomains.end() ? std::string() : it->second;
}

std::optional<int64_t> ParseNumber(const std::string& s) {
  try {
    size_t used = 0;
    int64_t v = 0;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
      uint64_t u = std::stoull(s.substr(2), &used, 16);
      if (used != s.size() - 2 || u > 0xffffffffULL) return std::nullopt;
      // AKS and IOKit returns are printed unsigned in hex and signed in `AKSError=`.
      v = u >= 0x80000000ULL ? static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(u)))
                             : static_cast<int64_t>(u);
    } else {
      v = std::stoll(s, &used, 10);
      if (used != s.size()) return std::nullopt;
      if (v >= 0x80000000LL && v <= 0xffffffffLL) v = static_cast<int32_t>(static_cast<uint32_t>(v));
    }
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// TPM response codes carry handle/parameter/session numbers and a TSS layer; the catalog holds
// the base codes.
std::optional<int64_t> TpmBaseCode(int64_t rc) {
  if (rc <= 0 || rc > 0xffffff) return std::nullopt;
  // A resource manager forwards the TPM's own codes in its TPM layer (11); other TSS layers'
  // codes (TCTI, ESYS) are catalogued as they are.
  if ((rc & 0xff0000) == 0x0b0000) rc &= 0xffff;
  if ((rc & 0xff0000) != 0) return rc;
  if (rc & 0x080) return 0x080 | (rc & 0x3f);
  if ((rc & 0x900) == 0x900) return rc & 0x97f;
  if (rc & 0x100) return rc & 0x17f;
  return std::nullopt;
}

const catalog::CodeEntry* FindTpm(int64_t rc) {
  if (const auto* e = catalog::FindCode(domain::kTPM, rc)) return e;
  if (auto base = TpmBaseCode(rc)) return catalog::FindCode(domain::kTPM, *base);
  return nullptr;
}

// Names as the platforms' headers and Swift spell them, to catalog names.
std::string CanonicalName(std::string token) {
  static const std::map<std::string, std::string, std::less<>> kAliases = {
      {"LAErrorTouchIDNotAvailable", "LAErrorBiometryNotAvailable"},
      {"LAErrorTouchIDNotEnrolled", "LAErrorBiometryNotEnrolled"},
      {"LAErrorTouchIDLockout", "LAErrorBiometryLockout"},
      {"LAErrorCompanionNotAvailable", "LAErrorWatchNotAvailable"},
      {"errSecUnsupportedOperation", "errSecUnimplemented"},
      {"errSecInvalidKey", "errSecDecode"},
      {"TKErrorCorruptedData", "TKErrorCodeCorruptedData"},
  };
  // Swift: LAError.Code.userCancel, LAError.userCancel, TKError.Code.corruptedData.
  static const std::vector<std::pair<std::string, std::string>> kSwift = {
      {"LAError.Code.", "LAError"},
      {"LAError.", "LAError"},
      {"TKError.Code.", "TKErrorCode"},
      {"TKError.", "TKErrorCode"},
  };
  for (const auto& [prefix, replacement] : kSwift) {
    if (token.size() > prefix.size() && token.compare(0, prefix.size(), prefix) == 0) {
      std::string rest = token.substr(prefix.size());
      rest[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(rest[0])));
      token = replacement + rest;
      break;
    }
  }
  while (!token.empty() && token.back() == '.') token.pop_back();
  if (token.rfind("TPM2_RC_", 0) == 0) token = "TPM_RC_" + token.substr(8);
  auto it = kAliases.find(token);
  return it == kAliases.end() ? token : it->second;
}

const catalog::CodeEntry* FindByName(const std::string& name) {
  for (const auto& c : catalog::AllCodes()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

bool Overlaps(const std::vector<std::pair<size_t, size_t>>& spans, size_t b, size_t e) {
  return std::any_of(spans.begin(), spans.end(), [&](const auto& s) { return b < s.second && s.first < e; });
}

// Collects codes from one of our JSON errors, following the underlying chain.
void FromErrorJson(const nlohmann::json& j, std::vector<Hit>& hits, std::string& cause, std::string& text) {
  if (!j.is_object()) return;
  const Error e = Error::FromJson(j);
  if (!e.domain.empty()) hits.push_back({hits.size(), NormalizeDomain(e.domain), e.code});
  if (cause.empty() && !e.cause.empty()) cause = e.cause;
  text += " " + e.description;
  if (e.user_info.contains("AKSError") && e.user_info["AKSError"].is_number_integer()) {
    hits.push_back({hits.size(), domain::kAKS, e.user_info["AKSError"].get<int64_t>()});
  }
  if (j.contains("user_info") && j["user_info"].is_object() && j["user_info"].contains("underlying")) {
    FromErrorJson(j["user_info"]["underlying"], hits, cause, text);
  }
}

void FromText(const std::string& text, std::vector<Hit>& hits) {
  std::vector<std::pair<size_t, size_t>> used;
  auto scan = [&](const std::regex& re, auto&& on_match) {
    for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it) {
      const size_t b = static_cast<size_t>(it->position(0));
      const size_t e = b + static_cast<size_t>(it->length(0));
      if (Overlaps(used, b, e)) continue;
      if (on_match(*it, b)) used.emplace_back(b, e);
    }
  };
  static const std::string domains =
      "NSOSStatusErrorDomain|OSStatus|com\\.apple\\.CryptoTokenKit|CryptoTokenKit|TKErrorDomain|"
      "com\\.apple\\.LocalAuthentication|LocalAuthentication|LAErrorDomain|AppleKeyStore|AKS|TPM";
  static const std::string number = "(-?[0-9]+|0[xX][0-9a-fA-F]+)";
  // `Error Domain=X Code=N`, `X Code=N`, `X error N`, `X -N`.
  static const std::regex domain_code(
      "\\b(" + domains + ")\"?\\s*(?:[,:]?\\s*(?:error|code|Code|status))?\\s*[=:]?\\s*" + number + "\\b");
  scan(domain_code, [&](const std::smatch& m, size_t pos) {
    auto v = ParseNumber(m[2].str());
    if (!v) return false;
    hits.push_back({pos, NormalizeDomain(m[1].str()), *v});
    return true;
  });
  static const std::regex aks("AKSError\"?\\s*[=:]\\s*" + number);
  scan(aks, [&](const std::smatch& m, size_t pos) {
    auto v = ParseNumber(m[1].str());
    if (!v) return false;
    hits.push_back({pos, domain::kAKS, *v});
    return true;
  });
  // Symbolic names: errSec…, LAError…, TKErrorCode…, kAKSReturn…, TPM_RC_…, Swift spellings, and
  // the relying party's HTTP_… (errors/catalog.json).
  static const std::regex name(
      "\\b(errSec[A-Za-z]+|LAError[A-Za-z.]+|TKError[A-Za-z.]+|TKTokenNotFound[A-Za-z]+|"
      "kAKSReturn[A-Za-z]+|TPM2?_RC_[A-Z0-9_]+|TSS2_[A-Z]+_RC_[A-Z_]+|HTTP_[A-Z_]+)");
  scan(name, [&](const std::smatch& m, size_t pos) {
    const auto* e = FindByName(CanonicalName(m[1].str()));
    if (e == nullptr) return false;
    hits.push_back({pos, e->domain, e->code});
    return true;
  });
  // A domain we do not catalogue (NSCocoaErrorDomain, NSURLErrorDomain...): its code means
  // something else, so it must not be read as one of ours below.
  static const std::regex foreign("Domain=\\S+\\s+Code=-?[0-9]+");
  scan(foreign, [](const std::smatch&, size_t) { return true; });
  // `error -25293`, `status: -25308` (a domain named before the number was taken above).
  static const std::regex generic("\\b(?:error|status|err|returned)\\s*[=:(]?\\s*(-[0-9]+)\\b",
                                  std::regex::icase);
  scan(generic, [&](const std::smatch& m, size_t pos) {
    auto v = ParseNumber(m[1].str());
    if (!v || catalog::FindCodesByNumber(*v).empty()) return false;
    hits.push_back({pos, "", *v});
    return true;
  });
  // Bare hex: AKS/IOKit returns (0xe007c009), TPM response codes (`ErrorCode (0x0000098e)`).
  static const std::regex tpm_words("tpm|esys|tss2|tcti", std::regex::icase);
  const bool mentions_tpm = std::regex_search(text, tpm_words);
  static const std::regex hex("\\b0[xX][0-9a-fA-F]{1,8}\\b");
  scan(hex, [&](const std::smatch& m, size_t pos) {
    auto v = ParseNumber(m[0].str());
    if (!v) return false;
    if (mentions_tpm && FindTpm(*v) != nullptr) {
      hits.push_back({pos, domain::kTPM, *v});
      return true;
    }
    for (const auto* e : catalog::FindCodesByNumber(*v)) {
      if (e->domain != domain::kTPM) hits.push_back({pos, e->domain, e->code});
    }
    return !catalog::FindCodesByNumber(*v).empty();
  });
  // The whole input is a single number, e.g. `-25300` or `-536362999`.
  static const std::regex bare("^\\s*(-?[0-9]+)\\s*$");
  scan(bare, [&](const std::smatch& m, size_t pos) {
    auto v = ParseNumber(m[1].str());
    if (!v || catalog::FindCodesByNumber(*v).empty()) return false;
    hits.push_back({pos, "", *v});
    return true;
  });
}

DecodedCode Decode(const catalog::CodeEntry& e) {
  DecodedCode d{e.domain, e.code, e.name, e.meaning, {}};
  for (const auto& id : e.causes) d.causes.push_back(catalog::Lookup(id));
  return d;
}

// Which decoded code says most about the cause: the keystore's return beats the token's wrapper,
// which beats the authentication layer, which beats the keychain's generic status.
int Specificity(const std::string& d) {
  if (d == domain::kAKS || d == domain::kTPM) return 0;
  if (d == domain::kLocalAuthentication) return 1;
  if (d == domain::kCryptoTokenKit) return 2;
  return 3;
}

}  // namespace

std::string RemedyText(std::string_view remedy) {
  static const std::map<std::string, std::string, std::less<>> kText = {
      {"retry", "Wait a moment (or the stated delay) and try again."},
      {"unlock", "Unlock the device (`enclave unlock`, or unlock the desktop session) and try again."},
      {"authenticate", "Authenticate again: present a matching finger or enter the passcode."},
      {"set-passcode", "Set a device passcode (`enclave passcode set`)."},
      {"enroll-biometry",
       "Enroll a finger (`enclave biometry enroll --finger NAME`) or configure a biometry provider."},
      {"reenroll",
       "The key can never be used again: re-enroll it (`enclave key reenroll SELECTOR`) and register the new "
       "public "
       "key with the relying party."},
      {"report",
       "Capture a diagnostics bundle at once (`enclave sysdiagnose -o FILE.tar.gz`) and file a bug report."},
      {"fix-call",
       "Correct the request (parameters, algorithm, configuration); retrying unchanged will not help."},
      {"fix-setup",
       "Fix the setup the description names (a path's length, a folder's type or permissions, a read-only "
       "file system); retrying unchanged will not help."},
      {"none", "Nothing is broken; this is an ordinary outcome to handle in the caller."},
  };
  auto it = kText.find(remedy);
  return it == kText.end() ? std::string() : it->second;
}

Explanation Explain(std::string_view input) {
  Explanation out;
  out.input = std::string(input.substr(0, kMaxInput));
  std::vector<Hit> hits;
  std::string explicit_cause;
  std::string text = out.input;

  const auto j = nlohmann::json::parse(out.input, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    if (j.contains("error"))
      FromErrorJson(j["error"], hits, explicit_cause, text);
    else if (j.contains("domain") && j.contains("code"))
      FromErrorJson(j, hits, explicit_cause, text);
    if (j.contains("kid") && j["kid"].is_string()) out.kid = j["kid"].get<std::string>();
  } else {
    FromText(out.input, hits);
  }
  std::stable_sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) { return a.pos < b.pos; });

  std::set<std::pair<std::string, int64_t>> seen;
  for (const auto& h : hits) {
    std::vector<const catalog::CodeEntry*> entries;
    if (h.domain == domain::kTPM) {
      if (const auto* e = FindTpm(h.code)) entries.push_back(e);
    } else if (!h.domain.empty()) {
      if (const auto* e = catalog::FindCode(h.domain, h.code)) entries.push_back(e);
    } else {
      // Domain unknown: prefer OSStatus (what "error -N" means on the phone), else every match.
      const auto all = catalog::FindCodesByNumber(h.code);
      for (const auto* e : all) {
        if (e->domain == domain::kOSStatus) entries = {e};
      }
      if (entries.empty()) entries = all;
    }
    for (const auto* e : entries) {
      if (seen.insert({e->domain, e->code}).second) out.codes.push_back(Decode(*e));
    }
  }

  static const std::regex kid_re("kid=([0-9a-fA-F]{16})\\b");
  std::smatch m;
  if (!out.kid && std::regex_search(text, m, kid_re)) out.kid = m[1].str();

  if (!explicit_cause.empty()) {
    out.cause = catalog::Lookup(explicit_cause);
  } else if (!out.codes.empty()) {
    const auto best = std::min_element(out.codes.begin(), out.codes.end(), [](const auto& a, const auto& b) {
      return Specificity(a.domain) < Specificity(b.domain);
    });
    if (!best->causes.empty()) out.cause = best->causes.front();
  }
  if (out.cause) {
    out.remedy = out.cause->remedy;
    out.remedy_text = RemedyText(out.remedy);
  }

  if (out.codes.empty()) {
    out.summary = "No error code, error name or known error format was recognised in this text.";
    return out;
  }
  std::string names;
  for (const auto& c : out.codes) {
    if (!names.empty()) names += " + ";
    names += c.domain + " " + std::to_string(c.code) + " (" + c.name + ")";
  }
  out.summary = names + ": ";
  if (out.cause) {
    out.summary += out.cause->meaning;
    if (out.cause->permanence != "none" && out.cause->permanence != "unknown") {
      out.summary += " [" + out.cause->permanence + "]";
    }
  } else {
    out.summary += out.codes.front().meaning;
  }
  return out;
}

nlohmann::json ToJson(const Explanation& e) {
  nlohmann::json j;
  j["input"] = e.input;
  j["recognized"] = e.recognized();
  j["codes"] = nlohmann::json::array();
  for (const auto& c : e.codes) {
    nlohmann::json cj{{"domain", c.domain}, {"code", c.code}, {"name", c.name}, {"meaning", c.meaning}};
    cj["causes"] = nlohmann::json::array();
    for (const auto& k : c.causes) {
      cj["causes"].push_back(
          {{"id", k.id}, {"permanence", k.permanence}, {"remedy", k.remedy}, {"meaning", k.meaning}});
    }
    j["codes"].push_back(std::move(cj));
  }
  j["kid"] = e.kid ? nlohmann::json(*e.kid) : nlohmann::json(nullptr);
  j["cause"] = e.cause ? nlohmann::json(e.cause->id) : nlohmann::json(nullptr);
  j["permanence"] = e.cause ? nlohmann::json(e.cause->permanence) : nlohmann::json(nullptr);
  j["summary"] = e.summary;
  j["remedy"] = e.remedy.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.remedy);
  j["remedy_text"] = e.remedy_text;
  return j;
}

std::string ToText(const Explanation& e) {
  if (!e.recognized()) return e.summary + "\n";
  std::string s;
  if (e.kid) s += "Key: kid=" + *e.kid + "\n";
  for (const auto& c : e.codes) {
    s += c.domain + " " + std::to_string(c.code) + "  " + c.name + "\n";
    s += "  meaning: " + c.meaning + "\n";
    for (const auto& k : c.causes) {
      s +=
          "  likely cause: " + k.id + " (" + k.permanence + ", remedy " + k.remedy + "): " + k.meaning + "\n";
    }
  }
  if (e.cause) {
    s += "\nMost likely: " + e.cause->id + " — " + e.cause->meaning + "\n";
    s += "Permanence: " + e.cause->permanence + "\n";
  }
  if (!e.remedy.empty()) s += "Remedy: " + e.remedy + " — " + e.remedy_text + "\n";
  return s;
}

}  // namespace enclave::explain
