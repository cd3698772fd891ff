// The enclave as a WebAuthn platform authenticator (L3 §6): registrations and assertions made
// with enclave keys, in the JSON a browser's PublicKeyCredential serialises to (toJSON()), so a
// relying party verifies them as it verifies any passkey. The keys stay in enclaved; this code
// runs in the caller's process and only asks the daemon to create keys and sign.
//
// Choices (docs/cli.md, "WebAuthn"):
// - credential id = SHA-256 of the key's X9.63 public key (rpclient/credential.h);
// - flags: UP always (the user ran the ceremony), UV when the key's access control verifies the
//   user (biometry, passcode), AT on registrations, ED when the device-key proof is attached;
//   BE and BS never: the key cannot leave the device, so it is never backed up;
// - signCount is always 0: a key that cannot be copied gains nothing from a counter, and 0 is
//   L3's way of saying the authenticator keeps none (§6.1.1);
// - attestation `packed` self-attestation (the credential key signs authData ‖ clientDataHash);
// - every registration carries the "enclave-device" extension (rpclient/device_key.h).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "rpclient/options.h"
#include "service/api.h"

namespace enclave::rpclient {

// Signs `message` (ecdsa-signature-message-x962-sha256) with the key `key` after its access
// control. A front end that can ask for a passcode wraps Api::Sign with its retry here.
using SignFunction = std::function<Result<OperationResult>(const KeyQuery& key, const Bytes& message,
                                                           const AuthOptions& auth)>;

// What of `enclave key create`'s spec a registration may choose; the rest is fixed by the
// credential (P-256, the application tag holds its record).
struct CreateParams {
  std::optional<Bytes> application_label;  // default: the user handle
  std::optional<std::string> label;        // default: "<rp id>: <user name>"
  std::optional<std::string> access_group;
  std::string token = "soft";
  std::string accessible = "when-unlocked-this-device-only";
  // Default: biometry-any,private-key-usage when the RP requires user verification, else
  // private-key-usage.
  std::optional<std::vector<std::string>> access_control;
};

// The credential a re-enrollment's registration replaces, for the device-key proof.
struct Replacement {
  Bytes credential_id;
  std::string cause;  // the journal's cause of death; may be empty
};

struct Registration {
  nlohmann::json credential;  // PublicKeyCredential JSON (registration)
  KeyInfo key;
};

struct Assertion {
  nlohmann::json credential;  // PublicKeyCredential JSON (assertion)
  KeyInfo key;
};

class Authenticator {
 public:
  explicit Authenticator(Api& api, SignFunction sign = {});

  // navigator.credentials.create: a new key for the options' user at their RP, registered with
  // the device-key proof. A key is left behind only when the whole registration was made.
  Result<Registration> Create(const nlohmann::json& options, const std::string& origin,
                              const CreateParams& params);
  // The registration of an existing key (the replacement a re-enrollment made).
  Result<Registration> Register(const KeyInfo& key, const CreationOptions& options, const std::string& origin,
                                const std::optional<Replacement>& replaces);
  // navigator.credentials.get: an assertion by the first allowed credential this enclave holds.
  Result<Assertion> Get(const nlohmann::json& options, const std::string& origin);

  Api& api() { return api_; }

 private:
  Result<Bytes> SignWith(const KeyInfo& key, const Bytes& message, const std::string& prompt);

  Api& api_;
  SignFunction sign_;
};

// Records in the enclave that key `kid` is a credential of the relying party at `server` (a URL
// or an origin), and for a re-enrollment which credential it replaces and why that one died, so
// that fleet reports (docs/fleet.md) go to that server and only there. `confirmed`: the server
// accepted the registration. Best effort: a failure is ignored.
void NoteRegistration(Api& api, const std::string& kid, const std::string& server,
                      const std::optional<Bytes>& replaces, const std::string& cause, bool confirmed);

// Whether a key's access control verifies the user (the UV flag): biometry or a passcode.
bool VerifiesUser(const std::vector<std::string>& access_control);

}  // namespace enclave::rpclient
