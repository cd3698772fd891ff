// Cryptoki 2.40 types from p11-kit's pkcs11.h, plus the PKCS#11 3.0 interface structure that
// C_GetInterface returns (the header predates it).
#pragma once

#include <p11-kit/pkcs11.h>

extern "C" {

#ifndef CKF_INTERFACE_FORK_SAFE
struct CK_INTERFACE {
  CK_UTF8CHAR* pInterfaceName;
  void* pFunctionList;
  CK_FLAGS flags;
};
#define CKF_INTERFACE_FORK_SAFE 0x00000001UL
#endif

}  // extern "C"
