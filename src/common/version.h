// The version of this build and the git revision it was built from, for --version, the daemon's
// ping and diagnostics.
#pragma once

#include <string>
#include <string_view>

namespace enclave {

// The project version, e.g. "0.1.0".
const char* Version();
// `git describe` of the source tree at build time ("unknown" when built outside git).
const char* GitRevision();
// "<program> <version> (git <revision>)", the first line of --version.
std::string VersionLine(std::string_view program);

}  // namespace enclave
