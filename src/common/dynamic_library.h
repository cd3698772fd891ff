// Libraries opened with dlopen on first use instead of linked: what most processes never need
// (a passcode prompt, an attestation to verify) is not loaded and relocated at every start of
// the CLI, whose every command is a new process.
#pragma once

#include <dlfcn.h>

namespace enclave {

// Sets `*out` to the symbol `name` of `library` (a dlopen handle); false when it is missing.
template <typename Fn>
bool ResolveSymbol(void* library, const char* name, Fn* out) {
  *out = reinterpret_cast<Fn>(::dlsym(library, name));
  return *out != nullptr;
}

}  // namespace enclave
