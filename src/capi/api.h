// The public header as the library sees it. The C handle type `enclave` would collide with the
// project's C++ namespace `enclave`, so inside the library it is spelled enclave_handle; the C
// symbols (unmangled) and the callers' view are unchanged.
#pragma once

#define enclave enclave_handle
#include "enclave/enclave.h"
#include "enclave/webauthn.h"
#undef enclave
