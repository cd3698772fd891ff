#include "common/version.h"

#include "common/version_data.h"

namespace enclave {

const char* Version() { return ENCLAVE_VERSION_STRING; }
const char* GitRevision() { return ENCLAVE_GIT_REVISION; }

std::string VersionLine(std::string_view program) {
  return std::string(program) + " " + Version() + " (git " + GitRevision() + ")";
}

}  // namespace enclave
