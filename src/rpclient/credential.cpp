#include "rpclient/credential.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "crypto/ec.h"
#include "webauthn/base64url.h"

namespace enclave::rpclient {

Bytes EncodeRecord(const CredentialRecord& record) {
  // nlohmann::json sorts object keys, so equal records are equal tags.
  nlohmann::json j{{"webauthn", 1},
                   {"rp", record.rp_id},
                   {"user", webauthn::Base64UrlEncode(record.user_handle)},
                   {"name", record.user_name}};
  if (record.replaces) {
    j["replaces"] = webauthn::Base64UrlEncode(*record.replaces);
    j["cause"] = record.cause;
  }
  return ToBytes(j.dump());
}

std::optional<CredentialRecord> DecodeRecord(ByteView application_tag) {
  if (application_tag.empty() || application_tag.front() != '{') return std::nullopt;
  auto j = nlohmann::json::parse(application_tag.begin(), application_tag.end(), nullptr, false);
  if (!j.is_object() || !j.contains("webauthn") || j["webauthn"] != 1 || !j.contains("rp") ||
      !j["rp"].is_string() || !j.contains("user") || !j["user"].is_string()) {
    return std::nullopt;
  }
  auto handle = webauthn::Base64UrlDecode(j["user"].get<std::string>());
  if (!handle.ok()) return std::nullopt;
  CredentialRecord r;
  r.rp_id = j["rp"].get<std::string>();
  r.user_handle = std::move(*handle);
  r.user_name = j.contains("name") && j["name"].is_string() ? j["name"].get<std::string>() : "";
  if (j.contains("replaces") && j["replaces"].is_string()) {
    auto replaced = webauthn::Base64UrlDecode(j["replaces"].get<std::string>());
    if (replaced.ok()) r.replaces = std::move(*replaced);
    r.cause = j.contains("cause") && j["cause"].is_string() ? j["cause"].get<std::string>() : "";
  }
  return r;
}

Bytes CredentialId(const KeyInfo& key) { return crypto::Digest(crypto::Hash::kSha256, key.public_key_x963); }

bool PermanentlyInvalid(Api& api, const std::string& kid) {
  auto doctor = api.Admin("doctor", nlohmann::json::object(), {});
  if (!doctor.ok() || !doctor->contains("keys") || !(*doctor)["keys"].is_array()) return false;
  for (const auto& k : (*doctor)["keys"]) {
    if (k.is_object() && k.value("kid", "") == kid) return k.value("verdict", "") == "permanently-invalid";
  }
  return false;
}

Result<KeyInfo> FindCredential(Api& api, ByteView id, const std::string& rp_id) {
  const auto not_found = [&] {
    return OSStatusError(errsec::kItemNotFound, "no credential of this enclave for " + rp_id +
                                                    " has the id " + webauthn::Base64UrlEncode(id))
        .WithCause("item-not-found");
  };
  if (id.size() != 32) return not_found();
  KeyQuery q;
  q.kid = HexEncode(id.first(8));
  q.match_all = true;
  auto keys = api.FindKeys(q);
  if (!keys.ok()) {
    if (keys.error().code == errsec::kItemNotFound) return not_found();
    return std::move(keys).error();
  }
  for (auto& k : *keys) {
    const auto record = DecodeRecord(k.application_tag);
    const Bytes cid = CredentialId(k);
    if (record && record->rp_id == rp_id && cid.size() == id.size() &&
        std::equal(cid.begin(), cid.end(), id.begin())) {
      return std::move(k);
    }
  }
  return not_found();
}

Result<KeyInfo> FindAnyCredential(Api& api, const std::vector<Bytes>& ids, const std::string& rp_id) {
  for (const auto& id : ids) {
    auto k = FindCredential(api, id, rp_id);
    if (k.ok() || k.error().code != errsec::kItemNotFound) return k;
  }
  if (!ids.empty()) {
    return OSStatusError(errsec::kItemNotFound,
                         "none of the " + std::to_string(ids.size()) +
                             " credentials the relying party allows is in this enclave (for " + rp_id + ")")
        .WithCause("item-not-found");
  }
  KeyQuery all;
  all.match_all = true;
  auto keys = api.FindKeys(all);
  if (!keys.ok() && keys.error().code != errsec::kItemNotFound) return std::move(keys).error();
  std::optional<KeyInfo> newest;
  for (auto& k : keys.ok() ? *keys : std::vector<KeyInfo>{}) {
    const auto record = DecodeRecord(k.application_tag);
    if (record && record->rp_id == rp_id && (!newest || k.created_ms >= newest->created_ms)) newest = k;
  }
  if (!newest) {
    return OSStatusError(errsec::kItemNotFound, "this enclave holds no credential for " + rp_id)
        .WithCause("item-not-found");
  }
  return std::move(*newest);
}

}  // namespace enclave::rpclient
