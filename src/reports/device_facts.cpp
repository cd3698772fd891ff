#include "reports/device_facts.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "common/version.h"
#include "crypto/ec.h"
#include "webauthn/base64url.h"

namespace enclave::reports {
namespace {

constexpr size_t kMaxIdentifier = 64;

bool IdentifierChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == '+' || c == '~' ||
         c == ':' || c == '-';
}

std::string Unquote(std::string v) {
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
    v = v.substr(1, v.size() - 2);
  }
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size()) ++i;
    out += v[i];
  }
  return out;
}

std::string ReadText(const char* path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

bool IsIdentifier(std::string_view value) {
  return !value.empty() && value.size() <= kMaxIdentifier &&
         std::all_of(value.begin(), value.end(), IdentifierChar);
}

std::string AsIdentifier(std::string_view value) {
  std::string out;
  for (char c : value.substr(0, kMaxIdentifier)) out += IdentifierChar(c) ? c : '-';
  return out.empty() ? "unknown" : out;
}

DeviceFacts ParseOsRelease(std::string_view text) {
  DeviceFacts facts;
  std::istringstream lines{std::string(text)};
  std::string line;
  while (std::getline(lines, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos || line.empty() || line[0] == '#') continue;
    const std::string key = line.substr(0, eq);
    const std::string value = Unquote(line.substr(eq + 1));
    if (key == "ID") facts.os_id = AsIdentifier(value);
    if (key == "VERSION_ID") facts.os_version = AsIdentifier(value);
  }
  if (facts.os_id.empty()) facts.os_id = "linux";  // os-release's own default for ID
  if (facts.os_version.empty()) facts.os_version = "unknown";
  return facts;
}

const DeviceFacts& ThisDevice() {
  static const DeviceFacts facts = [] {
    std::string text = ReadText("/etc/os-release");
    if (text.empty()) text = ReadText("/usr/lib/os-release");
    DeviceFacts f = ParseOsRelease(text);
    f.enclave_version = AsIdentifier(Version());
    utsname u{};
    f.kernel = ::uname(&u) == 0 ? AsIdentifier(u.release) : "unknown";
    return f;
  }();
  return facts;
}

std::string OriginOfUrl(std::string_view url) {
  std::string lower(url);
  const auto scheme_end = lower.find("://");
  if (scheme_end == std::string::npos) return "";
  std::transform(lower.begin(), lower.begin() + static_cast<long>(scheme_end), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::string scheme = lower.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return "";
  const auto authority_end = lower.find_first_of("/?#", scheme_end + 3);
  std::string authority =
      lower.substr(scheme_end + 3,
                   authority_end == std::string::npos ? std::string::npos : authority_end - scheme_end - 3);
  // No credentials in an origin; a host is compared without case.
  if (authority.empty() || authority.find('@') != std::string::npos) return "";
  std::transform(authority.begin(), authority.end(), authority.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return scheme + "://" + authority;
}

std::string NewReportId() { return webauthn::Base64UrlEncode(crypto::RandomBytes(16)); }

}  // namespace enclave::reports
