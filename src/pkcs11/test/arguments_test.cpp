// Hostile or careless callers: NULL pointers, wrong lengths, calls out of order. Every row must
// give its CK_RV and never crash.
#include <functional>

#include "pkcs11/test/harness.h"

namespace enclave::pkcs11::test {
namespace {

class Pkcs11Arguments : public ModuleTest {};

struct Row {
  const char* what;
  CK_RV expected;
  std::function<CK_RV(CK_FUNCTION_LIST*, CK_SESSION_HANDLE, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv)>
      call;
};

TEST_F(Pkcs11Arguments, EveryBadCallHasItsCode) {
  CK_SESSION_HANDLE session = Open();
  auto [pub_key, priv_key] = Generate(session, "args");
  static const Bytes params = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  static const Bytes p384 = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
  using F = CK_FUNCTION_LIST*;
  using S = CK_SESSION_HANDLE;
  using O = CK_OBJECT_HANDLE;
  const std::vector<Row> rows = {
      {"C_GetSlotList(count NULL)", CKR_ARGUMENTS_BAD,
       [](F f, S, O, O) { return f->C_GetSlotList(CK_TRUE, nullptr, nullptr); }},
      {"C_GetSlotList(buffer of 0)", CKR_BUFFER_TOO_SMALL,
       [](F f, S, O, O) {
         CK_SLOT_ID slot;
         CK_ULONG n = 0;
         return f->C_GetSlotList(CK_TRUE, &slot, &n);
       }},
      {"C_GetTokenInfo(NULL)", CKR_ARGUMENTS_BAD, [](F f, S, O, O) { return f->C_GetTokenInfo(0, nullptr); }},
      {"C_GetTokenInfo(slot 7)", CKR_SLOT_ID_INVALID,
       [](F f, S, O, O) {
         CK_TOKEN_INFO i;
         return f->C_GetTokenInfo(7, &i);
       }},
      {"C_GetMechanismInfo(RSA)", CKR_MECHANISM_INVALID,
       [](F f, S, O, O) {
         CK_MECHANISM_INFO i;
         return f->C_GetMechanismInfo(0, CKM_RSA_PKCS, &i);
       }},
      {"C_OpenSession(no serial flag)", CKR_SESSION_PARALLEL_NOT_SUPPORTED,
       [](F f, S, O, O) {
         CK_SESSION_HANDLE h;
         return f->C_OpenSession(0, 0, nullptr, nullptr, &h);
       }},
      {"C_OpenSession(handle NULL)", CKR_ARGUMENTS_BAD,
       [](F f, S, O, O) { return f->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, nullptr); }},
      {"C_GetSessionInfo(bad handle)", CKR_SESSION_HANDLE_INVALID,
       [](F f, S, O, O) {
         CK_SESSION_INFO i;
         return f->C_GetSessionInfo(9999, &i);
       }},
      {"C_Login(PIN NULL)", CKR_ARGUMENTS_BAD,
       [](F f, S s, O, O) { return f->C_Login(s, CKU_USER, nullptr, 4); }},
      {"C_FindObjectsInit(template NULL, count 1)", CKR_ARGUMENTS_BAD,
       [](F f, S s, O, O) { return f->C_FindObjectsInit(s, nullptr, 1); }},
      {"C_FindObjectsInit(CK_BBOOL of 4 bytes)", CKR_ATTRIBUTE_VALUE_INVALID,
       [](F f, S s, O, O) {
         Template a = Template().Ulong(CKA_TOKEN, 1);
         return f->C_FindObjectsInit(s, a.data(), a.size());
       }},
      {"C_FindObjectsInit(CKA_CLASS of 1 byte)", CKR_ATTRIBUTE_VALUE_INVALID,
       [](F f, S s, O, O) {
         Template a = Template().Bytes(CKA_CLASS, Bytes{3});
         return f->C_FindObjectsInit(s, a.data(), a.size());
       }},
      {"C_FindObjectsInit(value NULL, length 5)", CKR_ATTRIBUTE_VALUE_INVALID,
       [](F f, S s, O, O) {
         Template a = Template().Raw(CKA_ID, nullptr, 5);
         return f->C_FindObjectsInit(s, a.data(), a.size());
       }},
      {"C_FindObjects(not initialized)", CKR_OPERATION_NOT_INITIALIZED,
       [](F f, S s, O, O) {
         CK_OBJECT_HANDLE h;
         CK_ULONG n;
         return f->C_FindObjects(s, &h, 1, &n);
       }},
      {"C_FindObjectsFinal(not initialized)", CKR_OPERATION_NOT_INITIALIZED,
       [](F f, S s, O, O) { return f->C_FindObjectsFinal(s); }},
      {"C_GetAttributeValue(template NULL)", CKR_ARGUMENTS_BAD,
       [](F f, S s, O pub, O) { return f->C_GetAttributeValue(s, pub, nullptr, 1); }},
      {"C_GetAttributeValue(bad object)", CKR_OBJECT_HANDLE_INVALID,
       [](F f, S s, O, O) {
         Template a = Template().Raw(CKA_CLASS, nullptr, 0);
         return f->C_GetAttributeValue(s, 4242, a.data(), a.size());
       }},
      {"C_GetAttributeValue(unknown type)", CKR_ATTRIBUTE_TYPE_INVALID,
       [](F f, S s, O pub, O) {
         Template a = Template().Raw(CKA_MODULUS, nullptr, 0);
         CK_RV rv = f->C_GetAttributeValue(s, pub, a.data(), a.size());
         return a.attributes()[0].ulValueLen == CK_UNAVAILABLE_INFORMATION ? rv : CKR_GENERAL_ERROR;
       }},
      {"C_GetAttributeValue(EC_POINT into 10 bytes)", CKR_BUFFER_TOO_SMALL,
       [](F f, S s, O pub, O) {
         CK_BYTE buf[10];
         Template a = Template().Raw(CKA_EC_POINT, buf, sizeof buf);
         return f->C_GetAttributeValue(s, pub, a.data(), a.size());
       }},
      {"C_SetAttributeValue(CKA_LABEL value NULL, length 3)", CKR_ATTRIBUTE_VALUE_INVALID,
       [](F f, S s, O pub, O) {
         Template a = Template().Raw(CKA_LABEL, nullptr, 3);
         return f->C_SetAttributeValue(s, pub, a.data(), a.size());
       }},
      {"C_SetAttributeValue(CKA_EC_POINT)", CKR_ATTRIBUTE_READ_ONLY,
       [](F f, S s, O pub, O) {
         Template a = Template().Bytes(CKA_EC_POINT, Bytes{4, 1, 0});
         return f->C_SetAttributeValue(s, pub, a.data(), a.size());
       }},
      {"C_SignInit(mechanism NULL)", CKR_ARGUMENTS_BAD,
       [](F f, S s, O, O priv) { return f->C_SignInit(s, nullptr, priv); }},
      {"C_SignInit(RSA)", CKR_MECHANISM_INVALID,
       [](F f, S s, O, O priv) {
         CK_MECHANISM m = {CKM_RSA_PKCS, nullptr, 0};
         return f->C_SignInit(s, &m, priv);
       }},
      {"C_SignInit(ECDSA with a parameter)", CKR_MECHANISM_PARAM_INVALID,
       [](F f, S s, O, O priv) {
         CK_BYTE p = 1;
         CK_MECHANISM m = {CKM_ECDSA, &p, 1};
         return f->C_SignInit(s, &m, priv);
       }},
      {"C_SignInit(public key)", CKR_KEY_TYPE_INCONSISTENT,
       [](F f, S s, O pub, O) {
         CK_MECHANISM m = {CKM_ECDSA, nullptr, 0};
         return f->C_SignInit(s, &m, pub);
       }},
      {"C_SignInit(bad key)", CKR_KEY_HANDLE_INVALID,
       [](F f, S s, O, O) {
         CK_MECHANISM m = {CKM_ECDSA, nullptr, 0};
         return f->C_SignInit(s, &m, 4242);
       }},
      {"C_Sign(not initialized)", CKR_OPERATION_NOT_INITIALIZED,
       [](F f, S s, O, O) {
         CK_BYTE d[32] = {};
         CK_ULONG n = 64;
         return f->C_Sign(s, d, 32, nullptr, &n);
       }},
      {"C_Sign(length NULL)", CKR_ARGUMENTS_BAD,
       [](F f, S s, O, O priv) {
         CK_MECHANISM m = {CKM_ECDSA, nullptr, 0};
         f->C_SignInit(s, &m, priv);
         CK_BYTE d[32] = {};
         return f->C_Sign(s, d, 32, nullptr, nullptr);
       }},
      {"C_Sign(data NULL, length 32)", CKR_ARGUMENTS_BAD,
       [](F f, S s, O, O priv) {
         CK_MECHANISM m = {CKM_ECDSA, nullptr, 0};
         f->C_SignInit(s, &m, priv);
         CK_BYTE sig[64];
         CK_ULONG n = 64;
         return f->C_Sign(s, nullptr, 32, sig, &n);
       }},
      {"C_Sign(ECDSA on 65 bytes)", CKR_DATA_LEN_RANGE,
       [](F f, S s, O, O priv) {
         CK_MECHANISM m = {CKM_ECDSA, nullptr, 0};
         f->C_SignInit(s, &m, priv);
         CK_BYTE d[65] = {}, sig[64];
         CK_ULONG n = 64;
         return f->C_Sign(s, d, sizeof d, sig, &n);
       }},
      {"C_SignInit twice", CKR_OPERATION_ACTIVE,
       [](F f, S s, O, O priv) {
         CK_MECHANISM m = {CKM_ECDSA, nullptr, 0};
         f->C_SignInit(s, &m, priv);
         CK_RV rv = f->C_SignInit(s, &m, priv);
         CK_BYTE d[32] = {}, sig[64];
         CK_ULONG n = 64;
         f->C_Sign(s, d, 32, sig, &n);
         return rv;
       }},
      {"C_Verify(signature of 63 bytes)", CKR_SIGNATURE_LEN_RANGE,
       [](F f, S s, O pub, O) {
         CK_MECHANISM m = {CKM_ECDSA, nullptr, 0};
         f->C_VerifyInit(s, &m, pub);
         CK_BYTE d[32] = {}, sig[63] = {};
         return f->C_Verify(s, d, 32, sig, sizeof sig);
       }},
      {"C_GenerateKeyPair(P-384)", CKR_CURVE_NOT_SUPPORTED,
       [](F f, S s, O, O) {
         CK_MECHANISM m = {CKM_EC_KEY_PAIR_GEN, nullptr, 0};
         Template a = Template().Bytes(CKA_EC_PARAMS, p384);
         CK_OBJECT_HANDLE x, y;
         return f->C_GenerateKeyPair(s, &m, a.data(), a.size(), nullptr, 0, &x, &y);
       }},
      {"C_GenerateKeyPair(extractable)", CKR_ATTRIBUTE_VALUE_INVALID,
       [](F f, S s, O, O) {
         CK_MECHANISM m = {CKM_EC_KEY_PAIR_GEN, nullptr, 0};
         Template pub = Template().Bytes(CKA_EC_PARAMS, params);
         Template priv = Template().Bool(CKA_EXTRACTABLE, true);
         CK_OBJECT_HANDLE x, y;
         return f->C_GenerateKeyPair(s, &m, pub.data(), pub.size(), priv.data(), priv.size(), &x, &y);
       }},
      {"C_GenerateKeyPair(handles NULL)", CKR_ARGUMENTS_BAD,
       [](F f, S s, O, O) {
         CK_MECHANISM m = {CKM_EC_KEY_PAIR_GEN, nullptr, 0};
         return f->C_GenerateKeyPair(s, &m, nullptr, 0, nullptr, 0, nullptr, nullptr);
       }},
      {"C_GenerateKeyPair(RSA)", CKR_MECHANISM_INVALID,
       [](F f, S s, O, O) {
         CK_MECHANISM m = {CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
         CK_OBJECT_HANDLE x, y;
         return f->C_GenerateKeyPair(s, &m, nullptr, 0, nullptr, 0, &x, &y);
       }},
      {"C_DeriveKey(no parameters)", CKR_MECHANISM_PARAM_INVALID,
       [](F f, S s, O, O priv) {
         CK_MECHANISM m = {CKM_ECDH1_DERIVE, nullptr, 0};
         CK_OBJECT_HANDLE k;
         return f->C_DeriveKey(s, &m, priv, nullptr, 0, &k);
       }},
      {"C_DeriveKey(point of 10 bytes)", CKR_MECHANISM_PARAM_INVALID,
       [](F f, S s, O, O priv) {
         CK_BYTE pt[10] = {4};
         CK_ECDH1_DERIVE_PARAMS p{CKD_NULL, 0, nullptr, sizeof pt, pt};
         CK_MECHANISM m = {CKM_ECDH1_DERIVE, &p, sizeof p};
         CK_OBJECT_HANDLE k;
         return f->C_DeriveKey(s, &m, priv, nullptr, 0, &k);
       }},
      {"C_DeriveKey(parameter length 3)", CKR_MECHANISM_PARAM_INVALID,
       [](F f, S s, O, O priv) {
         CK_ECDH1_DERIVE_PARAMS p{};
         CK_MECHANISM m = {CKM_ECDH1_DERIVE, &p, 3};
         CK_OBJECT_HANDLE k;
         return f->C_DeriveKey(s, &m, priv, nullptr, 0, &k);
       }},
      {"C_GenerateRandom(length 0)", CKR_OK,
       [](F f, S s, O, O) { return f->C_GenerateRandom(s, nullptr, 0); }},
      {"C_GenerateRandom(NULL, length 8)", CKR_ARGUMENTS_BAD,
       [](F f, S s, O, O) { return f->C_GenerateRandom(s, nullptr, 8); }},
      {"C_SeedRandom", CKR_RANDOM_SEED_NOT_SUPPORTED,
       [](F f, S s, O, O) {
         CK_BYTE b[4] = {};
         return f->C_SeedRandom(s, b, 4);
       }},
      {"C_DestroyObject(bad handle)", CKR_OBJECT_HANDLE_INVALID,
       [](F f, S s, O, O) { return f->C_DestroyObject(s, 4242); }},
      {"C_Initialize(twice)", CKR_CRYPTOKI_ALREADY_INITIALIZED,
       [](F f, S, O, O) { return f->C_Initialize(nullptr); }},
      {"C_Initialize(reserved set)", CKR_ARGUMENTS_BAD,
       [](F f, S, O, O) {
         CK_C_INITIALIZE_ARGS a{};
         a.pReserved = &a;
         return f->C_Initialize(&a);
       }},
      {"C_Finalize(reserved set)", CKR_ARGUMENTS_BAD,
       [](F f, S, O, O) {
         int x = 0;
         return f->C_Finalize(&x);
       }},
      {"C_Encrypt", CKR_FUNCTION_NOT_SUPPORTED,
       [](F f, S s, O, O) { return f->C_Encrypt(s, nullptr, 0, nullptr, nullptr); }},
  };
  for (const auto& row : rows) EXPECT_EQ(row.call(f(), session, pub_key, priv_key), row.expected) << row.what;

  // A read-only session may not destroy a token key; a random 0-length call is fine anyway.
  CK_SESSION_HANDLE ro = Open(false);
  EXPECT_EQ(f()->C_DestroyObject(ro, priv_key), CKR_SESSION_READ_ONLY);
  Bytes a(32), b(32);
  ASSERT_EQ(f()->C_GenerateRandom(ro, a.data(), a.size()), CKR_OK);
  ASSERT_EQ(f()->C_GenerateRandom(ro, b.data(), b.size()), CKR_OK);
  EXPECT_NE(a, b);
}

TEST(Pkcs11Uninitialized, CallsBeforeInitializeAreRefused) {
  ASSERT_NE(Module(), nullptr);
  CK_INFO info;
  EXPECT_EQ(Module()->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
  CK_ULONG n = 0;
  EXPECT_EQ(Module()->C_GetSlotList(CK_TRUE, nullptr, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
  EXPECT_EQ(Module()->C_Finalize(nullptr), CKR_CRYPTOKI_NOT_INITIALIZED);
  CK_C_INITIALIZE_ARGS custom{};
  custom.CreateMutex = [](CK_VOID_PTR_PTR) -> CK_RV { return CKR_OK; };
  custom.DestroyMutex = [](CK_VOID_PTR) -> CK_RV { return CKR_OK; };
  custom.LockMutex = [](CK_VOID_PTR) -> CK_RV { return CKR_OK; };
  custom.UnlockMutex = [](CK_VOID_PTR) -> CK_RV { return CKR_OK; };
  EXPECT_EQ(Module()->C_Initialize(&custom), CKR_CANT_LOCK);
}

}  // namespace
}  // namespace enclave::pkcs11::test
