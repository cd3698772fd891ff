// GET /demo: a small page whose script registers and signs in with the browser's WebAuthn
// (navigator.credentials.create / get) through the server's own JSON API. Meant for
// http://localhost:PORT with --rp-id localhost (browsers allow WebAuthn on localhost without TLS).
#pragma once

#include <string>

namespace enclave::rpd {

const std::string& DemoPage();

}  // namespace enclave::rpd
