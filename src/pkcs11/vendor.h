// enclave's vendor-defined PKCS#11 attributes (docs/pkcs11.md). Values are UTF-8 strings without
// a terminating NUL. They carry what the enclave knows about a key beyond Cryptoki's model.
#pragma once

#include "pkcs11/p11.h"

namespace enclave::pkcs11 {

// 0x454E43 is "ENC".
constexpr CK_ATTRIBUTE_TYPE kVendorBase = CKA_VENDOR_DEFINED | 0x454E4300UL;
// The key's accessibility, e.g. "when-unlocked-this-device-only". Settable at key generation.
constexpr CK_ATTRIBUTE_TYPE CKA_ENCLAVE_ACCESSIBLE = kVendorBase + 1;
// The access-control flags, comma-separated, e.g. "biometry-any,private-key-usage". Settable at
// key generation.
constexpr CK_ATTRIBUTE_TYPE CKA_ENCLAVE_ACCESS_CONTROL = kVendorBase + 2;
// The key's kid (read-only).
constexpr CK_ATTRIBUTE_TYPE CKA_ENCLAVE_KID = kVendorBase + 3;
// The application tag (bytes). Settable at key generation and with C_SetAttributeValue.
constexpr CK_ATTRIBUTE_TYPE CKA_ENCLAVE_APPLICATION_TAG = kVendorBase + 4;

}  // namespace enclave::pkcs11
