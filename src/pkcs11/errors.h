// Every enclave error, by its stable cause, maps to one CK_RV (the table in docs/pkcs11.md).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "pkcs11/p11.h"

namespace enclave::pkcs11 {

struct CauseMapping {
  const char* cause;
  CK_RV rv;
  const char* rv_name;
};

// One row per cause of errors/catalog.json.
const std::vector<CauseMapping>& ErrorTable();
// The CK_RV for an enclave error; a cause missing from the table is CKR_FUNCTION_FAILED.
CK_RV ToCkr(const Error& e);

}  // namespace enclave::pkcs11
