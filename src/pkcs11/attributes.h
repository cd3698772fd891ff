// Attributes of the module's objects, computed from the enclave's key items, and the checks on
// templates that callers pass in.
#pragma once

#include <optional>

#include "common/bytes.h"
#include "pkcs11/module.h"
#include "pkcs11/template.h"

namespace enclave::pkcs11 {

// DER OID of prime256v1, the only curve enclave keys use.
const Bytes& P256Params();
// DER OCTET STRING wrapping the X9.63 point (67 bytes for P-256).
Bytes EcPointDer(ByteView x963);

struct AttributeValue {
  Bytes bytes;
  bool sensitive = false;  // exists but may not be read (CKR_ATTRIBUTE_SENSITIVE)
};

// nullopt: the object has no such attribute (CKR_ATTRIBUTE_TYPE_INVALID). `key` is the key item
// of key objects, nullptr for secret keys.
std::optional<AttributeValue> ObjectAttribute(const Object& o, const KeyInfo* key, CK_ATTRIBUTE_TYPE type);
bool ObjectIsPrivate(const Object& o);
bool ObjectIsToken(const Object& o, const KeyInfo* key);
// Every template attribute equals the object's.
bool Matches(const Object& o, const KeyInfo* key, const CK_ATTRIBUTE* tmpl, CK_ULONG count);

// Template checks: a NULL template with a count, a NULL value with a length, a CK_BBOOL that is
// not one byte or a CK_ULONG of another size are caller errors, never a crash.
CK_RV CheckTemplate(const CK_ATTRIBUTE* tmpl, CK_ULONG count);
bool IsBoolAttribute(CK_ATTRIBUTE_TYPE t);
bool IsUlongAttribute(CK_ATTRIBUTE_TYPE t);
bool ReadBool(const CK_ATTRIBUTE& a);       // after CheckTemplate
CK_ULONG ReadUlong(const CK_ATTRIBUTE& a);  // after CheckTemplate
Bytes ReadBytes(const CK_ATTRIBUTE& a);
std::string ReadString(const CK_ATTRIBUTE& a);

// Copies `value` out as C_GetAttributeValue does for one attribute; returns the CK_RV of it.
CK_RV CopyAttribute(CK_ATTRIBUTE& out, const std::optional<AttributeValue>& value);

}  // namespace enclave::pkcs11
