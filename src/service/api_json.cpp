// JSON forms of the Api types: the CLI's --json contract and the Admin reports use them.
#include "service/api.h"

namespace enclave {
namespace {

bool IsPrintableText(const Bytes& b) {
  if (b.empty()) return true;
  for (uint8_t c : b) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  // Non-ASCII bytes are accepted only as valid UTF-8.
  auto j = nlohmann::json(std::string(b.begin(), b.end()));
  try {
    (void)j.dump();
  } catch (const nlohmann::json::exception&) {
    return false;
  }
  return true;
}

}  // namespace

nlohmann::json KeyInfoToJson(const KeyInfo& k) {
  nlohmann::json j;
  j["kid"] = k.kid;
  j["persistent_id"] = k.persistent_id;
  j["description"] = k.description;
  j["label"] = k.label;
  if (IsPrintableText(k.application_label)) j["application_label"] = ToString(k.application_label);
  j["application_label_hex"] = HexEncode(k.application_label);
  if (IsPrintableText(k.application_tag)) j["application_tag"] = ToString(k.application_tag);
  j["application_tag_hex"] = HexEncode(k.application_tag);
  j["access_group"] = k.access_group;
  j["token"] = k.token;
  j["key_class"] = k.key_class;
  j["key_type"] = k.key_type;
  j["key_size"] = k.key_size;
  j["permanent"] = k.permanent;
  j["can_sign"] = k.can_sign;
  j["can_derive"] = k.can_derive;
  j["can_decrypt"] = k.can_decrypt;
  j["created_ms"] = k.created_ms;
  j["modified_ms"] = k.modified_ms;
  j["accessible"] = k.accessible;
  j["access_control"] = k.access_control;
  j["public_key_x963"] = HexEncode(k.public_key_x963);
  j["ssh"] = k.ssh;
  return j;
}

nlohmann::json KeyQueryToJson(const KeyQuery& q) {
  nlohmann::json j = nlohmann::json::object();
  if (q.kid) j["kid"] = *q.kid;
  if (q.persistent_id) j["persistent_id"] = *q.persistent_id;
  if (q.label) j["label"] = *q.label;
  if (q.application_label) j["application_label_hex"] = HexEncode(*q.application_label);
  if (q.application_tag) j["application_tag_hex"] = HexEncode(*q.application_tag);
  if (q.access_group) j["access_group"] = *q.access_group;
  if (q.token) j["token"] = *q.token;
  if (q.ssh) j["ssh"] = *q.ssh;
  j["match_all"] = q.match_all;
  return j;
}

Result<KeyQuery> KeyQueryFromJson(const nlohmann::json& j) {
  auto bad = [](const std::string& what) {
    return OSStatusError(errsec::kParam, "bad key query: " + what).WithCause("bad-parameter");
  };
  if (!j.is_object()) return bad("not an object");
  KeyQuery q;
  auto str = [&](const char* name, std::optional<std::string>& out) -> bool {
    if (!j.contains(name)) return true;
    if (!j[name].is_string()) return false;
    out = j[name].get<std::string>();
    return true;
  };
  auto hex = [&](const char* name, std::optional<Bytes>& out) -> bool {
    if (!j.contains(name)) return true;
    if (!j[name].is_string()) return false;
    auto b = HexDecode(j[name].get<std::string>());
    if (!b) return false;
    out = *b;
    return true;
  };
  if (!str("kid", q.kid) || !str("label", q.label) || !str("access_group", q.access_group) ||
      !str("token", q.token) || !hex("application_label_hex", q.application_label) ||
      !hex("application_tag_hex", q.application_tag)) {
    return bad("a field has the wrong type");
  }
  if (j.contains("persistent_id")) {
    if (!j["persistent_id"].is_number_integer()) return bad("persistent_id");
    q.persistent_id = j["persistent_id"].get<int64_t>();
  }
  if (j.contains("ssh")) {
    if (!j["ssh"].is_boolean()) return bad("ssh");
    q.ssh = j["ssh"].get<bool>();
  }
  if (j.contains("match_all") && j["match_all"].is_boolean()) q.match_all = j["match_all"].get<bool>();
  return q;
}

}  // namespace enclave
