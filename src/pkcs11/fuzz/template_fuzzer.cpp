// libFuzzer: attribute templates as a PKCS#11 caller passes them (C_FindObjectsInit,
// C_GetAttributeValue, C_GenerateKeyPair), checked and read by the module's template code.
//
// Input: records of [type: 4 bytes][length: 2 bytes][value: length bytes, or none when the
// length's top bit says "NULL value"]. The lengths are the caller's word and stay true to the
// bytes given (a caller that lies about its own buffer is outside what any module can check);
// NULL values with a length, odd sizes for booleans and integers and unknown types are all fair.
#include <algorithm>
#include <cstdint>

#include "pkcs11/attributes.h"

namespace {

using namespace enclave;          // NOLINT(google-build-using-namespace)
using namespace enclave::pkcs11;  // NOLINT(google-build-using-namespace)

KeyInfo SampleKey() {
  KeyInfo k;
  k.kid = "0123456789abcdef";
  k.label = "fuzz";
  k.application_label = {1, 2, 3};
  k.token = "soft";
  k.accessible = "when-unlocked-this-device-only";
  k.access_control = {"private-key-usage"};
  k.public_key_x963 = Bytes(65, 0x04);
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Owned copies of the values (a Template's), so that ASan sees where each one ends.
  Template tmpl;
  size_t at = 0;
  while (at + 6 <= size && tmpl.size() < 32) {
    const CK_ATTRIBUTE_TYPE type = (CK_ULONG{data[at]} << 24) | (CK_ULONG{data[at + 1]} << 16) |
                                   (CK_ULONG{data[at + 2]} << 8) | data[at + 3];
    const uint16_t raw_len = static_cast<uint16_t>((data[at + 4] << 8) | data[at + 5]);
    at += 6;
    const bool null_value = (raw_len & 0x8000) != 0;
    size_t len = raw_len & 0x7fff;
    if (null_value) {
      tmpl.Raw(type, nullptr, len);
      continue;
    }
    len = std::min(len, size - at);
    tmpl.Bytes(type, ByteView(data + at, len));
    at += len;
  }

  const KeyInfo key = SampleKey();
  Object objects[3];
  objects[0].kind = ObjectKind::kPrivateKey;
  objects[1].kind = ObjectKind::kPublicKey;
  objects[2].kind = ObjectKind::kSecretKey;
  objects[2].secret = std::make_shared<SecretKey>();
  objects[2].secret->value = SecureBytes(Bytes(32, 7));

  if (CheckTemplate(tmpl.data(), tmpl.size()) != CKR_OK) return 0;
  for (const CK_ATTRIBUTE& a : tmpl.attributes()) {
    if (IsBoolAttribute(a.type)) (void)ReadBool(a);
    if (IsUlongAttribute(a.type)) (void)ReadUlong(a);
    (void)ReadBytes(a);
    (void)ReadString(a);
  }
  for (const Object& o : objects) {
    const KeyInfo* k = o.kind == ObjectKind::kSecretKey ? nullptr : &key;
    (void)Matches(o, k, tmpl.data(), tmpl.size());
    // C_GetAttributeValue into the caller's buffers (the template's values, or length queries).
    for (CK_ATTRIBUTE out : tmpl.attributes()) (void)CopyAttribute(out, ObjectAttribute(o, k, out.type));
  }
  return 0;
}
