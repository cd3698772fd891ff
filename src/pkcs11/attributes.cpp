#include "pkcs11/attributes.h"

#include <cstring>

#include "crypto/ec.h"
#include "pkcs11/vendor.h"

namespace enclave::pkcs11 {
namespace {

Bytes Text(const std::string& s) { return Bytes(s.begin(), s.end()); }

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

Bytes Mechanisms(std::initializer_list<CK_MECHANISM_TYPE> list) {
  Bytes out(list.size() * sizeof(CK_MECHANISM_TYPE));
  size_t i = 0;
  for (CK_MECHANISM_TYPE m : list) std::memcpy(out.data() + sizeof(m) * i++, &m, sizeof(m));
  return out;
}

std::optional<AttributeValue> V(Bytes b) { return AttributeValue{std::move(b), false}; }
std::optional<AttributeValue> B(bool b) { return V(BoolValue(b)); }
std::optional<AttributeValue> U(CK_ULONG u) { return V(UlongValue(u)); }

// Attributes every key object of an enclave item has.
std::optional<AttributeValue> CommonKeyAttribute(const KeyInfo& k, CK_ATTRIBUTE_TYPE t) {
  switch (t) {
    case CKA_TOKEN:
      return B(k.permanent);
    case CKA_MODIFIABLE:
    case CKA_DESTROYABLE:
    case CKA_LOCAL:
      return B(true);
    case CKA_COPYABLE:
      return B(false);
    case CKA_LABEL:
      return V(Text(k.label));
    case CKA_ID:
      return V(k.application_label);
    case CKA_KEY_TYPE:
      return U(CKK_EC);
    case CKA_START_DATE:
    case CKA_END_DATE:
    case CKA_SUBJECT:
      return V({});
    case CKA_KEY_GEN_MECHANISM:
      return U(CKM_EC_KEY_PAIR_GEN);
    case CKA_DERIVE:
      return B(k.can_derive);
    case CKA_EC_PARAMS:
      return V(P256Params());
    case CKA_EC_POINT:
      return V(EcPointDer(k.public_key_x963));
    case CKA_PUBLIC_KEY_INFO: {
      auto pub = crypto::EcPublicKey::FromX963(k.public_key_x963);
      if (!pub.ok()) return std::nullopt;
      return V(pub->SpkiDer());
    }
    case CKA_ALLOWED_MECHANISMS:
      return V(Mechanisms({CKM_ECDSA, CKM_ECDSA_SHA1, CKM_ECDSA_SHA224, CKM_ECDSA_SHA256, CKM_ECDSA_SHA384,
                           CKM_ECDSA_SHA512, CKM_ECDH1_DERIVE, CKM_ECDH1_COFACTOR_DERIVE}));
    case CKA_ENCLAVE_ACCESSIBLE:
      return V(Text(k.accessible));
    case CKA_ENCLAVE_ACCESS_CONTROL:
      return V(Text(Join(k.access_control)));
    case CKA_ENCLAVE_KID:
      return V(Text(k.kid));
    case CKA_ENCLAVE_APPLICATION_TAG:
      return V(k.application_tag);
    default:
      return std::nullopt;
  }
}

std::optional<AttributeValue> PrivateKeyAttribute(const KeyInfo& k, CK_ATTRIBUTE_TYPE t) {
  switch (t) {
    case CKA_CLASS:
      return U(CKO_PRIVATE_KEY);
    case CKA_PRIVATE:
    case CKA_SENSITIVE:
    case CKA_ALWAYS_SENSITIVE:
    case CKA_NEVER_EXTRACTABLE:
      return B(true);
    case CKA_EXTRACTABLE:
    case CKA_DECRYPT:
    case CKA_SIGN_RECOVER:
    case CKA_UNWRAP:
    case CKA_WRAP_WITH_TRUSTED:
    // User presence is the enclave's to check, out of band, on every use that needs it.
    case CKA_ALWAYS_AUTHENTICATE:
      return B(false);
    case CKA_SIGN:
      return B(k.can_sign);
    case CKA_VALUE:
      return AttributeValue{{}, true};
    default:
      return CommonKeyAttribute(k, t);
  }
}

std::optional<AttributeValue> PublicKeyAttribute(const KeyInfo& k, CK_ATTRIBUTE_TYPE t) {
  switch (t) {
    case CKA_CLASS:
      return U(CKO_PUBLIC_KEY);
    case CKA_PRIVATE:
    case CKA_ENCRYPT:
    case CKA_VERIFY_RECOVER:
    case CKA_WRAP:
    case CKA_TRUSTED:
      return B(false);
    case CKA_VERIFY:
      return B(k.can_sign);
    default:
      return CommonKeyAttribute(k, t);
  }
}

std::optional<AttributeValue> SecretKeyAttribute(const SecretKey& s, CK_ATTRIBUTE_TYPE t) {
  switch (t) {
    case CKA_CLASS:
      return U(CKO_SECRET_KEY);
    case CKA_TOKEN:
    case CKA_LOCAL:
    case CKA_ALWAYS_SENSITIVE:
    case CKA_NEVER_EXTRACTABLE:
    case CKA_COPYABLE:
      return B(false);
    case CKA_DESTROYABLE:
      return B(true);
    case CKA_PRIVATE:
    case CKA_MODIFIABLE:
      return B(s.Flag(t, true));
    case CKA_SENSITIVE:
    case CKA_ENCRYPT:
    case CKA_DECRYPT:
    case CKA_WRAP:
    case CKA_UNWRAP:
    case CKA_SIGN:
    case CKA_VERIFY:
    case CKA_DERIVE:
      return B(s.Flag(t, false));
    case CKA_EXTRACTABLE:
      return B(s.Flag(t, true));
    case CKA_LABEL:
      return V(Text(s.label));
    case CKA_ID:
      return V(s.id);
    case CKA_KEY_TYPE:
      return U(s.key_type);
    case CKA_KEY_GEN_MECHANISM:
      return U(CK_UNAVAILABLE_INFORMATION);
    case CKA_START_DATE:
    case CKA_END_DATE:
      return V({});
    case CKA_VALUE_LEN:
      return U(s.value.size());
    case CKA_VALUE: {
      const bool hidden = s.Flag(CKA_SENSITIVE, false) || !s.Flag(CKA_EXTRACTABLE, true);
      if (hidden) return AttributeValue{{}, true};
      return V(Bytes(s.value.view().begin(), s.value.view().end()));
    }
    default:
      return std::nullopt;
  }
}

}  // namespace

const Bytes& P256Params() {
  static const Bytes oid = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  return oid;
}

Bytes EcPointDer(ByteView x963) {
  Bytes out(2 + x963.size());
  out[0] = 0x04;
  out[1] = static_cast<uint8_t>(x963.size());
  if (!x963.empty()) std::memcpy(out.data() + 2, x963.data(), x963.size());
  return out;
}

std::optional<AttributeValue> ObjectAttribute(const Object& o, const KeyInfo* key, CK_ATTRIBUTE_TYPE type) {
  switch (o.kind) {
    case ObjectKind::kPrivateKey:
      return key ? PrivateKeyAttribute(*key, type) : std::nullopt;
    case ObjectKind::kPublicKey:
      return key ? PublicKeyAttribute(*key, type) : std::nullopt;
    case ObjectKind::kSecretKey:
      return o.secret ? SecretKeyAttribute(*o.secret, type) : std::nullopt;
  }
  return std::nullopt;
}

bool ObjectIsPrivate(const Object& o) {
  if (o.kind == ObjectKind::kPrivateKey) return true;
  if (o.kind == ObjectKind::kSecretKey) return o.secret && o.secret->Flag(CKA_PRIVATE, true);
  return false;
}

bool ObjectIsToken(const Object& o, const KeyInfo* key) {
  return o.kind != ObjectKind::kSecretKey && key != nullptr && key->permanent;
}

bool Matches(const Object& o, const KeyInfo* key, const CK_ATTRIBUTE* tmpl, CK_ULONG count) {
  for (CK_ULONG i = 0; i < count; ++i) {
    const auto value = ObjectAttribute(o, key, tmpl[i].type);
    if (!value || value->sensitive) return false;
    if (IsBoolAttribute(tmpl[i].type)) {
      if (value->bytes.size() != 1 || (value->bytes[0] != 0) != ReadBool(tmpl[i])) return false;
      continue;
    }
    if (value->bytes != ReadBytes(tmpl[i])) return false;
  }
  return true;
}

bool IsBoolAttribute(CK_ATTRIBUTE_TYPE t) {
  switch (t) {
    case CKA_TOKEN:
    case CKA_PRIVATE:
    case CKA_MODIFIABLE:
    case CKA_COPYABLE:
    case CKA_DESTROYABLE:
    case CKA_DERIVE:
    case CKA_LOCAL:
    case CKA_SENSITIVE:
    case CKA_ENCRYPT:
    case CKA_DECRYPT:
    case CKA_SIGN:
    case CKA_SIGN_RECOVER:
    case CKA_VERIFY:
    case CKA_VERIFY_RECOVER:
    case CKA_WRAP:
    case CKA_UNWRAP:
    case CKA_EXTRACTABLE:
    case CKA_ALWAYS_SENSITIVE:
    case CKA_NEVER_EXTRACTABLE:
    case CKA_WRAP_WITH_TRUSTED:
    case CKA_ALWAYS_AUTHENTICATE:
    case CKA_TRUSTED:
      return true;
    default:
      return false;
  }
}

bool IsUlongAttribute(CK_ATTRIBUTE_TYPE t) {
  return t == CKA_CLASS || t == CKA_KEY_TYPE || t == CKA_VALUE_LEN || t == CKA_KEY_GEN_MECHANISM ||
         t == CKA_CERTIFICATE_TYPE;
}

CK_RV CheckTemplate(const CK_ATTRIBUTE* tmpl, CK_ULONG count) {
  if (tmpl == nullptr && count > 0) return CKR_ARGUMENTS_BAD;
  for (CK_ULONG i = 0; i < count; ++i) {
    const CK_ATTRIBUTE& a = tmpl[i];
    if (a.pValue == nullptr && a.ulValueLen > 0) return CKR_ATTRIBUTE_VALUE_INVALID;
    if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION) return CKR_ATTRIBUTE_VALUE_INVALID;
    if (IsBoolAttribute(a.type) && a.ulValueLen != sizeof(CK_BBOOL)) return CKR_ATTRIBUTE_VALUE_INVALID;
    if (IsUlongAttribute(a.type) && a.ulValueLen != sizeof(CK_ULONG)) return CKR_ATTRIBUTE_VALUE_INVALID;
  }
  return CKR_OK;
}

bool ReadBool(const CK_ATTRIBUTE& a) {
  return a.pValue != nullptr && a.ulValueLen == 1 && *static_cast<const CK_BBOOL*>(a.pValue) != CK_FALSE;
}

CK_ULONG ReadUlong(const CK_ATTRIBUTE& a) {
  CK_ULONG v = 0;
  if (a.pValue != nullptr && a.ulValueLen == sizeof v) std::memcpy(&v, a.pValue, sizeof v);
  return v;
}

Bytes ReadBytes(const CK_ATTRIBUTE& a) {
  if (a.pValue == nullptr || a.ulValueLen == 0) return {};
  const auto* p = static_cast<const uint8_t*>(a.pValue);
  return Bytes(p, p + a.ulValueLen);
}

std::string ReadString(const CK_ATTRIBUTE& a) {
  const Bytes b = ReadBytes(a);
  return std::string(b.begin(), b.end());
}

CK_RV CopyAttribute(CK_ATTRIBUTE& out, const std::optional<AttributeValue>& value) {
  if (!value) {
    out.ulValueLen = CK_UNAVAILABLE_INFORMATION;
    return CKR_ATTRIBUTE_TYPE_INVALID;
  }
  if (value->sensitive) {
    out.ulValueLen = CK_UNAVAILABLE_INFORMATION;
    return CKR_ATTRIBUTE_SENSITIVE;
  }
  if (out.pValue == nullptr) {
    out.ulValueLen = value->bytes.size();
    return CKR_OK;
  }
  if (out.ulValueLen < value->bytes.size()) {
    out.ulValueLen = CK_UNAVAILABLE_INFORMATION;
    return CKR_BUFFER_TOO_SMALL;
  }
  if (!value->bytes.empty()) std::memcpy(out.pValue, value->bytes.data(), value->bytes.size());
  out.ulValueLen = value->bytes.size();
  return CKR_OK;
}

}  // namespace enclave::pkcs11
