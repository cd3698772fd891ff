#include "webauthn/client_data.h"

#include <nlohmann/json.hpp>

#include "common/json_depth.h"
#include "webauthn/base64url.h"
#include "webauthn/reason.h"

namespace enclave::webauthn {
namespace {

constexpr size_t kMaxClientDataBytes = 16 * 1024;
constexpr size_t kMaxClientDataDepth = 16;

// CCDToString (§5.8.1.2): '"' and '\' are escaped with a backslash, code points below U+0020 as
// \u00xx with lowercase hex, every other code point is copied as its UTF-8 bytes.
void AppendCcdString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20) {
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
}

}  // namespace

std::string ClientDataJson(std::string_view type, std::span<const uint8_t> challenge, std::string_view origin,
                           bool cross_origin) {
  std::string out = "{\"type\":";
  AppendCcdString(out, type);
  out += ",\"challenge\":";
  AppendCcdString(out, Base64UrlEncode(challenge));
  out += ",\"origin\":";
  AppendCcdString(out, origin);
  out += ",\"crossOrigin\":";
  out += cross_origin ? "true" : "false";
  out += "}";
  return out;
}

Result<ClientData> ParseClientData(std::span<const uint8_t> json) {
  if (json.size() > kMaxClientDataBytes) return Fail(kMalformed, "clientDataJSON is too long");
  const std::string_view json_text(reinterpret_cast<const char*>(json.data()), json.size());
  if (!JsonDepthWithin(json_text, kMaxClientDataDepth))
    return Fail(kMalformed, "clientDataJSON is nested too deep");
  auto doc = nlohmann::json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return Fail(kMalformed, "clientDataJSON is not a JSON object");
  auto text = [&](const char* name) -> const nlohmann::json* {
    auto it = doc.find(name);
    return it != doc.end() && it->is_string() ? &*it : nullptr;
  };
  const auto *type = text("type"), *challenge = text("challenge"), *origin = text("origin");
  if (!type || !challenge || !origin)
    return Fail(kMalformed, "clientDataJSON lacks a string type, challenge or origin");
  ClientData cd;
  cd.type = type->get<std::string>();
  cd.origin = origin->get<std::string>();
  auto decoded = Base64UrlDecode(challenge->get<std::string>());
  if (!decoded.ok()) return Fail(kMalformed, "clientDataJSON's challenge is not base64url");
  cd.challenge = std::move(*decoded);
  if (auto it = doc.find("crossOrigin"); it != doc.end()) {
    if (!it->is_boolean()) return Fail(kMalformed, "clientDataJSON's crossOrigin is not a boolean");
    cd.cross_origin = it->get<bool>();
  }
  if (auto it = doc.find("topOrigin"); it != doc.end()) {
    if (!it->is_string()) return Fail(kMalformed, "clientDataJSON's topOrigin is not a string");
    cd.top_origin = it->get<std::string>();
  }
  return cd;
}

}  // namespace enclave::webauthn
