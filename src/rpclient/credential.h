// How a WebAuthn credential lives in the enclave: an ordinary enclave key whose application tag
// holds the credential's record (relying party, user handle, user name), and whose credential id
// is derived from its public key, so that nothing else needs to be stored and `key reenroll`
// (which keeps label, application label and tag) carries the record over to the replacement.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/result.h"
#include "service/api.h"

namespace enclave::rpclient {

struct CredentialRecord {
  std::string rp_id;
  Bytes user_handle;
  std::string user_name;
  // Set on a re-enrollment's replacement until the relying party accepted its registration: the
  // credential it replaces and the cause of that one's death (rpclient/relying_party.h).
  std::optional<Bytes> replaces;
  std::string cause;
};

// The application tag: compact JSON {"webauthn":1,"rp":…,"user":base64url,"name":…[,"replaces",
// "cause"]}, printable
// in `enclave key show`.
Bytes EncodeRecord(const CredentialRecord& record);
// The record of a key, or nothing when its tag is not one (a key of another use).
std::optional<CredentialRecord> DecodeRecord(ByteView application_tag);

// The credential id: SHA-256 of the key's X9.63 public key (32 bytes). Stable for the key's
// life, unique, and its first 8 bytes are the key's kid, so the key is found again by one
// indexed lookup.
Bytes CredentialId(const KeyInfo& key);

// The key holding credential `id` for `rp_id`; errSecItemNotFound when this enclave has none.
Result<KeyInfo> FindCredential(Api& api, ByteView id, const std::string& rp_id);
// Whether doctor finds key `kid` permanently invalid (its biometry reset, its TPM cleared …): such
// a key still exists but can never sign again. A doctor that cannot run says no.
bool PermanentlyInvalid(Api& api, const std::string& kid);
// The first of `ids` this enclave holds for `rp_id`; with no ids, the newest credential for
// the RP (a discoverable credential's lookup). errSecItemNotFound when there is none.
Result<KeyInfo> FindAnyCredential(Api& api, const std::vector<Bytes>& ids, const std::string& rp_id);

}  // namespace enclave::rpclient
