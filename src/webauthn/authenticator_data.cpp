#include "webauthn/authenticator_data.h"

#include <algorithm>

#include "webauthn/cbor_util.h"
#include "webauthn/reason.h"

namespace enclave::webauthn {

std::vector<uint8_t> Encode(const AuthenticatorData& data) {
  std::vector<uint8_t> out(data.rp_id_hash.begin(), data.rp_id_hash.end());
  uint8_t flags = data.flags & static_cast<uint8_t>(~(kFlagAt | kFlagEd));
  if (data.attested) flags |= kFlagAt;
  if (!data.extensions_cbor.empty()) flags |= kFlagEd;
  out.push_back(flags);
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(data.sign_count >> shift));
  if (data.attested) {
    const AttestedCredential& a = *data.attested;
    out.insert(out.end(), a.aaguid.begin(), a.aaguid.end());
    out.push_back(static_cast<uint8_t>(a.credential_id.size() >> 8));
    out.push_back(static_cast<uint8_t>(a.credential_id.size()));
    out.insert(out.end(), a.credential_id.begin(), a.credential_id.end());
    out.insert(out.end(), a.cose_key.begin(), a.cose_key.end());
  }
  out.insert(out.end(), data.extensions_cbor.begin(), data.extensions_cbor.end());
  return out;
}

Result<AuthenticatorData> ParseAuthenticatorData(std::span<const uint8_t> bytes) {
  if (bytes.size() < 37) return Fail(kMalformed, "authenticator data shorter than 37 bytes");
  AuthenticatorData d;
  std::copy_n(bytes.begin(), 32, d.rp_id_hash.begin());
  d.flags = bytes[32];
  d.sign_count =
      (uint32_t{bytes[33]} << 24) | (uint32_t{bytes[34]} << 16) | (uint32_t{bytes[35]} << 8) | bytes[36];
  auto rest = bytes.subspan(37);
  if (d.flags & kFlagAt) {
    if (rest.size() < 18) return Fail(kMalformed, "attested credential data is cut short");
    AttestedCredential a;
    std::copy_n(rest.begin(), 16, a.aaguid.begin());
    size_t id_len = (size_t{rest[16]} << 8) | rest[17];
    rest = rest.subspan(18);
    if (id_len == 0 || id_len > kMaxCredentialIdBytes)
      return Fail(kMalformed, "credential id length outside 1..1023");
    if (rest.size() < id_len) return Fail(kMalformed, "credential id is cut short");
    a.credential_id.assign(rest.begin(), rest.begin() + static_cast<ptrdiff_t>(id_len));
    rest = rest.subspan(id_len);
    size_t key_len = 0;
    ASSIGN_OR_RETURN(auto key, cbor::Decode(rest, &key_len));
    if (!cbor::MapPairs(key.get())) return Fail(kMalformed, "credential public key is not a CBOR map");
    a.cose_key.assign(rest.begin(), rest.begin() + static_cast<ptrdiff_t>(key_len));
    rest = rest.subspan(key_len);
    d.attested = std::move(a);
  }
  if (d.flags & kFlagEd) {
    if (rest.empty()) return Fail(kMalformed, "ED is set but there are no extensions");
    RETURN_IF_ERROR(ParseExtensions(rest));
    d.extensions_cbor.assign(rest.begin(), rest.end());
    rest = {};
  }
  if (!rest.empty()) return Fail(kMalformed, "bytes after the authenticator data");
  return d;
}

std::vector<uint8_t> EncodeExtensions(const Extensions& extensions) {
  std::vector<const Extensions::value_type*> sorted;
  for (const auto& e : extensions) sorted.push_back(&e);
  // CTAP2 canonical order compares encoded keys: for text, shorter first, then bytewise.
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
    if (a->first.size() != b->first.size()) return a->first.size() < b->first.size();
    return a->first < b->first;
  });
  cbor::Writer w;
  w.Map(sorted.size());
  for (const auto* e : sorted) {
    w.Text(e->first);
    w.Raw(e->second);
  }
  return w.Take();
}

Result<Extensions> ParseExtensions(std::span<const uint8_t> bytes) {
  ASSIGN_OR_RETURN(size_t total, cbor::ItemLength(bytes));
  if (total != bytes.size()) return Fail(kMalformed, "bytes after the extensions map");
  ASSIGN_OR_RETURN(auto map, cbor::Decode(bytes));
  if (!cbor::MapPairs(map.get())) return Fail(kMalformed, "extensions are not a CBOR map with distinct keys");
  // Values are split out of the encoded map by their lengths, so each keeps its exact bytes.
  Extensions out;
  size_t info = bytes[0] & 31;  // the map's head: one byte, or one and its 1/2/4/8-byte count
  size_t pos = info < 24 ? 1 : 1 + (size_t{1} << (info - 24));
  for (size_t i = 0; i < cbor_map_size(map.get()); ++i) {
    ASSIGN_OR_RETURN(size_t key_len, cbor::ItemLength(bytes.subspan(pos)));
    ASSIGN_OR_RETURN(auto key, cbor::Decode(bytes.subspan(pos, key_len)));
    auto name = cbor::AsText(key.get());
    if (!name) return Fail(kMalformed, "an extension identifier is not text");
    pos += key_len;
    ASSIGN_OR_RETURN(size_t value_len, cbor::ItemLength(bytes.subspan(pos)));
    out.emplace(std::string(*name),
                std::vector<uint8_t>(bytes.begin() + static_cast<ptrdiff_t>(pos),
                                     bytes.begin() + static_cast<ptrdiff_t>(pos + value_len)));
    pos += value_len;
  }
  return out;
}

Result<std::optional<std::vector<uint8_t>>> FindExtension(const AuthenticatorData& data,
                                                          const std::string& name) {
  if (data.extensions_cbor.empty()) return std::optional<std::vector<uint8_t>>();
  ASSIGN_OR_RETURN(auto extensions, ParseExtensions(data.extensions_cbor));
  auto it = extensions.find(name);
  if (it == extensions.end()) return std::optional<std::vector<uint8_t>>();
  return std::optional<std::vector<uint8_t>>(std::move(it->second));
}

}  // namespace enclave::webauthn
