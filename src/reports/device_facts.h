// What a fleet report says about the device it comes from, read once per process: the enclave's
// version, the OS (os-release ID and VERSION_ID) and the kernel release. Each is cut down to the
// report schema's identifier set, so a value the schema would refuse never stops a report.
#pragma once

#include <string>
#include <string_view>

namespace enclave::reports {

struct DeviceFacts {
  std::string enclave_version;
  std::string os_id;
  std::string os_version;
  std::string kernel;
};

// From /etc/os-release (else /usr/lib/os-release) and uname(2); "unknown" where a value is missing.
const DeviceFacts& ThisDevice();
// os-release's text read as the spec says (KEY=value, optionally quoted); for tests.
DeviceFacts ParseOsRelease(std::string_view text);

// `value` reduced to [A-Za-z0-9._+~:-]{1,64}: other characters become '-', longer values are cut,
// an empty one is "unknown".
std::string AsIdentifier(std::string_view value);
// Whether `value` is already such an identifier (app-id and app-version are checked with it).
bool IsIdentifier(std::string_view value);

// scheme://host[:port] of an http(s) URL, the scheme and host in lower case; empty when `url` is
// not one. Registrations and the report-server are matched by it.
std::string OriginOfUrl(std::string_view url);

// 16 random bytes, base64url: a report's id and idempotency key.
std::string NewReportId();

}  // namespace enclave::reports
