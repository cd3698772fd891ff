// Verifies a session-bind@openssh.com: the server's host key must have signed the session id.
// Host keys ssh servers use: ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa (with the
// rsa-sha2-256/512 signatures OpenSSH >= 8.8 requires; SHA-1 "ssh-rsa" signatures are refused).
#pragma once

#include <string>

#include "common/result.h"
#include "sshagent/wire.h"

namespace enclave::sshagent {

// Ok when `bind.signature` is the host key's valid signature over `bind.session_id`;
// errSecVerifyFailed (cause verify-failed) otherwise, errSecParam for an unknown key type.
Status VerifySessionBind(const SessionBind& bind);

// "SHA256:…" as ssh prints it.
std::string HostKeyFingerprint(ByteView key_blob);

}  // namespace enclave::sshagent
