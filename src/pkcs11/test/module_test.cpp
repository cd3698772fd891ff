// The module's objects, attributes and mechanisms against the real daemon.
#include <cstring>

#include "crypto/ec.h"
#include "pkcs11/test/harness.h"

namespace enclave::pkcs11::test {
namespace {

std::string Text(const Bytes& b) { return std::string(b.begin(), b.end()); }
bool True(const Bytes& b) { return b.size() == 1 && b[0] == CK_TRUE; }

CK_ULONG Ulong(const Bytes& b) {
  CK_ULONG v = 0;
  if (b.size() == sizeof v) std::memcpy(&v, b.data(), sizeof v);
  return v;
}

class Pkcs11Module : public ModuleTest {};

TEST_F(Pkcs11Module, OneSoftTokenWithoutTpmWithStableSerial) {
  CK_ULONG n = 0;
  ASSERT_EQ(f()->C_GetSlotList(CK_TRUE, nullptr, &n), CKR_OK);
  ASSERT_EQ(n, 1u);
  CK_SLOT_ID slot = 99;
  ASSERT_EQ(f()->C_GetSlotList(CK_TRUE, &slot, &n), CKR_OK);
  CK_TOKEN_INFO info{};
  ASSERT_EQ(f()->C_GetTokenInfo(slot, &info), CKR_OK);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(info.label), 32), "enclave" + std::string(25, ' '));
  EXPECT_EQ(info.flags & (CKF_TOKEN_INITIALIZED | CKF_RNG), CKF_TOKEN_INITIALIZED | CKF_RNG);
  EXPECT_EQ(info.flags & CKF_LOGIN_REQUIRED, 0u);
  EXPECT_EQ(f()->C_GetTokenInfo(1, &info), CKR_SLOT_ID_INVALID);
  const std::string serial(reinterpret_cast<char*>(info.serialNumber), 16);
  ASSERT_TRUE(StopDaemon());
  ASSERT_EQ(f()->C_GetTokenInfo(slot, &info), CKR_OK);  // reconnects, starting a new daemon
  EXPECT_EQ(std::string(reinterpret_cast<char*>(info.serialNumber), 16), serial);
}

TEST_F(Pkcs11Module, KeyPairObjectsAndAttributes) {
  CK_SESSION_HANDLE s = Open();
  auto [pub, priv] = Generate(s, "k1");
  auto pubs = Find(s, Template().Ulong(CKA_CLASS, CKO_PUBLIC_KEY));
  ASSERT_EQ(pubs, std::vector<CK_OBJECT_HANDLE>{pub});
  const Bytes point = Attribute(s, pub, CKA_EC_POINT);
  ASSERT_EQ(point.size(), 67u);
  EXPECT_EQ(point[0], 0x04);
  EXPECT_EQ(point[1], 0x41);
  EXPECT_EQ(point[2], 0x04);
  EXPECT_EQ(HexEncode(Attribute(s, pub, CKA_EC_PARAMS)), "06082a8648ce3d030107");
  EXPECT_EQ(Text(Attribute(s, pub, CKA_ID)), "k1");
  EXPECT_EQ(Text(Attribute(s, priv, CKA_LABEL)), "label-k1");
  EXPECT_EQ(Ulong(Attribute(s, priv, CKA_KEY_TYPE)), CKK_EC);
  for (CK_ATTRIBUTE_TYPE t : {CKA_SENSITIVE, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_LOCAL, CKA_SIGN,
                              CKA_DERIVE, CKA_PRIVATE}) {
    EXPECT_TRUE(True(Attribute(s, priv, t))) << t;
  }
  for (CK_ATTRIBUTE_TYPE t : {CKA_EXTRACTABLE, CKA_ALWAYS_AUTHENTICATE})
    EXPECT_FALSE(True(Attribute(s, priv, t)));
  EXPECT_FALSE(True(Attribute(s, pub, CKA_PRIVATE)));
  CK_RV rv = CKR_OK;
  Attribute(s, priv, CKA_VALUE, &rv);
  EXPECT_EQ(rv, CKR_ATTRIBUTE_SENSITIVE);
  EXPECT_EQ(Text(Attribute(s, priv, CKA_VENDOR_DEFINED | 0x454E4301UL)), "when-unlocked");
  EXPECT_FALSE(Attribute(s, priv, CKA_VENDOR_DEFINED | 0x454E4303UL).empty());  // kid

  // Private and public halves share CKA_ID; CLASS+ID+SIGN finds the private one (OpenSSH's query).
  EXPECT_EQ(Find(s, Template().Ulong(CKA_CLASS, CKO_PRIVATE_KEY).String(CKA_ID, "k1").Bool(CKA_SIGN, true)),
            std::vector<CK_OBJECT_HANDLE>{priv});

  // Labels change; the application label (CKA_ID) is bound into the key blob.
  Template set_label = Template().String(CKA_LABEL, "renamed");
  EXPECT_EQ(f()->C_SetAttributeValue(s, pub, set_label.data(), set_label.size()), CKR_OK);
  EXPECT_EQ(Text(Attribute(s, priv, CKA_LABEL)), "renamed");
  Template set_id = Template().String(CKA_ID, "k1");
  EXPECT_EQ(f()->C_SetAttributeValue(s, priv, set_id.data(), set_id.size()), CKR_ATTRIBUTE_READ_ONLY);

  // Destroying the private half deletes the item; the public half then goes quietly.
  EXPECT_EQ(f()->C_DestroyObject(s, priv), CKR_OK);
  EXPECT_EQ(f()->C_DestroyObject(s, pub), CKR_OK);
  EXPECT_TRUE(Find(s, {}).empty());
}

TEST_F(Pkcs11Module, SignatureLengthQueriesAndVerification) {
  CK_SESSION_HANDLE s = Open();
  auto [pub, priv] = Generate(s, "signer");
  auto key = crypto::EcPublicKey::FromX963(PublicPoint(s, pub));
  ASSERT_TRUE(key.ok());
  const Bytes message = ToBytes("challenge from the relying party");
  const Bytes digest = crypto::Digest(crypto::Hash::kSha256, message);

  CK_MECHANISM mech = {CKM_ECDSA, nullptr, 0};
  ASSERT_EQ(f()->C_SignInit(s, &mech, priv), CKR_OK);
  Bytes d = digest;
  CK_ULONG len = 0;
  ASSERT_EQ(f()->C_Sign(s, d.data(), d.size(), nullptr, &len), CKR_OK);
  EXPECT_EQ(len, 64u);
  Bytes sig(len);
  CK_ULONG short_len = 10;
  EXPECT_EQ(f()->C_Sign(s, d.data(), d.size(), sig.data(), &short_len), CKR_BUFFER_TOO_SMALL);
  EXPECT_EQ(short_len, 64u);
  ASSERT_EQ(f()->C_Sign(s, d.data(), d.size(), sig.data(), &len), CKR_OK);  // still active
  auto der = crypto::RawSignatureToDer(sig);
  ASSERT_TRUE(der.ok());
  EXPECT_TRUE(key->VerifyDigestDer(digest, *der));
  EXPECT_EQ(f()->C_Sign(s, d.data(), d.size(), sig.data(), &len), CKR_OPERATION_NOT_INITIALIZED);

  for (CK_MECHANISM_TYPE m :
       {CKM_ECDSA_SHA1, CKM_ECDSA_SHA224, CKM_ECDSA_SHA256, CKM_ECDSA_SHA384, CKM_ECDSA_SHA512}) {
    Bytes sig2;
    ASSERT_EQ(Sign(s, priv, m, message, &sig2), CKR_OK) << m;
    CK_MECHANISM vm = {m, nullptr, 0};
    Bytes msg = message;
    ASSERT_EQ(f()->C_VerifyInit(s, &vm, pub), CKR_OK);
    EXPECT_EQ(f()->C_Verify(s, msg.data(), msg.size(), sig2.data(), sig2.size()), CKR_OK) << m;
    msg[0] ^= 1;
    ASSERT_EQ(f()->C_VerifyInit(s, &vm, pub), CKR_OK);
    EXPECT_EQ(f()->C_Verify(s, msg.data(), msg.size(), sig2.data(), sig2.size()), CKR_SIGNATURE_INVALID) << m;
  }
  // Multi-part equals single-part (both verify).
  mech.mechanism = CKM_ECDSA_SHA256;
  ASSERT_EQ(f()->C_SignInit(s, &mech, priv), CKR_OK);
  Bytes a = ToBytes("challenge from "), b = ToBytes("the relying party");
  ASSERT_EQ(f()->C_SignUpdate(s, a.data(), a.size()), CKR_OK);
  ASSERT_EQ(f()->C_SignUpdate(s, b.data(), b.size()), CKR_OK);
  len = sig.size();
  ASSERT_EQ(f()->C_SignFinal(s, sig.data(), &len), CKR_OK);
  der = crypto::RawSignatureToDer(sig);
  ASSERT_TRUE(der.ok());
  EXPECT_TRUE(key->VerifyDigestDer(digest, *der));
}

TEST_F(Pkcs11Module, SessionKeyDiesWithItsSession) {
  CK_SESSION_HANDLE s = Open(false);  // session objects need no R/W session
  auto [pub, priv] = Generate(s, "ephemeral", false);
  EXPECT_FALSE(True(Attribute(s, priv, CKA_TOKEN)));
  Bytes sig;
  EXPECT_EQ(Sign(s, priv, CKM_ECDSA, Bytes(32, 7), &sig), CKR_OK);
  CK_SESSION_HANDLE other = Open(false);
  EXPECT_EQ(Find(other, {}).size(), 2u);
  ASSERT_EQ(f()->C_CloseSession(s), CKR_OK);
  EXPECT_TRUE(Find(other, {}).empty());
  // A token key needs a R/W session.
  Template tok = Template().Bool(CKA_TOKEN, true);
  CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  CK_OBJECT_HANDLE hp, hk;
  EXPECT_EQ(f()->C_GenerateKeyPair(other, &mech, tok.data(), tok.size(), tok.data(), tok.size(), &hp, &hk),
            CKR_SESSION_READ_ONLY);
}

TEST_F(Pkcs11Module, EcdhDeriveMatchesOpenSsl) {
  CK_SESSION_HANDLE s = Open();
  auto [pub, priv] = Generate(s, "dh");
  auto ours = crypto::EcPublicKey::FromX963(PublicPoint(s, pub));
  ASSERT_TRUE(ours.ok());
  auto peer = crypto::EcPrivateKey::Generate();
  ASSERT_TRUE(peer.ok());
  auto expected = peer->SharedSecret(*ours);
  ASSERT_TRUE(expected.ok());
  Bytes peer_point = peer->PublicKey().X963();

  auto secret_template = [](bool sensitive) {
    return Template()
        .Bool(CKA_TOKEN, false)
        .Ulong(CKA_CLASS, CKO_SECRET_KEY)
        .Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .Bool(CKA_SENSITIVE, sensitive)
        .Bool(CKA_EXTRACTABLE, true)
        .Ulong(CKA_VALUE_LEN, 32);
  };
  Template tmpl = secret_template(false);
  CK_ECDH1_DERIVE_PARAMS params{CKD_NULL, 0, nullptr, static_cast<CK_ULONG>(peer_point.size()),
                                peer_point.data()};
  CK_MECHANISM mech = {CKM_ECDH1_DERIVE, &params, sizeof params};
  CK_OBJECT_HANDLE secret = 0;
  ASSERT_EQ(f()->C_DeriveKey(s, &mech, priv, tmpl.data(), tmpl.size(), &secret), CKR_OK);
  EXPECT_EQ(HexEncode(Attribute(s, secret, CKA_VALUE)), HexEncode(*expected));
  EXPECT_EQ(Ulong(Attribute(s, secret, CKA_CLASS)), CKO_SECRET_KEY);

  // CKD_SHA256_KDF is the ANSI X9.63 KDF with the shared data as shared info.
  Bytes info = ToBytes("shared info");
  params = {CKD_SHA256_KDF, static_cast<CK_ULONG>(info.size()), info.data(),
            static_cast<CK_ULONG>(peer_point.size()), peer_point.data()};
  ASSERT_EQ(f()->C_DeriveKey(s, &mech, priv, tmpl.data(), tmpl.size(), &secret), CKR_OK);
  EXPECT_EQ(HexEncode(Attribute(s, secret, CKA_VALUE)),
            HexEncode(crypto::X963Kdf(crypto::Hash::kSha256, *expected, info, 32)));

  // A sensitive secret's value stays unreadable.
  tmpl = secret_template(true);
  ASSERT_EQ(f()->C_DeriveKey(s, &mech, priv, tmpl.data(), tmpl.size(), &secret), CKR_OK);
  CK_RV rv = CKR_OK;
  Attribute(s, secret, CKA_VALUE, &rv);
  EXPECT_EQ(rv, CKR_ATTRIBUTE_SENSITIVE);
}

TEST_F(Pkcs11Module, LoginIsUnlockWithThePasscode) {
  CK_SESSION_HANDLE s = Open();
  auto [pub, priv] = Generate(s, "locked");
  Admin("passcode.set", {}, {"246810"});
  CK_TOKEN_INFO info{};
  ASSERT_EQ(f()->C_GetTokenInfo(0, &info), CKR_OK);
  EXPECT_EQ(info.flags & (CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED),
            CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED);
  CK_SESSION_HANDLE s2 = Open();
  const Template privates = Template().Ulong(CKA_CLASS, CKO_PRIVATE_KEY);
  EXPECT_TRUE(Find(s2, privates).empty());                                      // they need a login
  EXPECT_EQ(Find(s2, Template().Ulong(CKA_CLASS, CKO_PUBLIC_KEY)).size(), 1u);  // public ones do not
  std::string wrong = "111111", right = "246810";
  auto pin = [](std::string& p) { return reinterpret_cast<CK_UTF8CHAR_PTR>(p.data()); };
  EXPECT_EQ(f()->C_Login(s2, CKU_USER, pin(wrong), wrong.size()), CKR_PIN_INCORRECT);
  ASSERT_EQ(f()->C_GetTokenInfo(0, &info), CKR_OK);
  EXPECT_NE(info.flags & CKF_USER_PIN_COUNT_LOW, 0u);
  EXPECT_EQ(f()->C_Login(s2, CKU_SO, pin(right), right.size()), CKR_USER_TYPE_INVALID);
  ASSERT_EQ(f()->C_Login(s2, CKU_USER, pin(right), right.size()), CKR_OK);
  CK_SESSION_INFO si{};
  ASSERT_EQ(f()->C_GetSessionInfo(s2, &si), CKR_OK);
  EXPECT_EQ(si.state, CKS_RW_USER_FUNCTIONS);
  EXPECT_EQ(Find(s2, privates), std::vector<CK_OBJECT_HANDLE>{priv});
  Bytes sig;
  EXPECT_EQ(Sign(s2, priv, CKM_ECDSA, Bytes(32, 1), &sig), CKR_OK);
  ASSERT_EQ(f()->C_Logout(s2), CKR_OK);
  EXPECT_EQ(f()->C_Logout(s2), CKR_USER_NOT_LOGGED_IN);

  // Wrong PINs count toward the enclave's lockout: it ends in CKR_PIN_LOCKED, for the right PIN too.
  CK_RV rv = CKR_OK;
  for (int i = 0; i < 12 && rv != CKR_PIN_LOCKED; ++i) {
    rv = f()->C_Login(s2, CKU_USER, pin(wrong), wrong.size());
    EXPECT_TRUE(rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED) << rv;
  }
  EXPECT_EQ(rv, CKR_PIN_LOCKED);
  EXPECT_EQ(f()->C_Login(s2, CKU_USER, pin(right), right.size()), CKR_PIN_LOCKED);
}

TEST_F(Pkcs11Module, BiometryPromptNamesTheCallerAndDeadKeyFailsWithoutPrompt) {
  Admin("config.set", {{"key", "biometry"}, {"value", "simulator"}});
  Admin("biometry", {{"action", "enroll"}, {"finger", "right-thumb"}});
  CK_SESSION_HANDLE s = Open();
  auto [pub, priv] = Generate(s, "bio", true, "biometry-any,private-key-usage");
  Admin("biometry", {{"action", "match"}});
  Bytes sig;
  ASSERT_EQ(Sign(s, priv, CKM_ECDSA, Bytes(32, 3), &sig), CKR_OK);
  auto state = Admin("biometry", {{"action", "status"}});
  const std::string prompt = state["simulator"].value("last_prompt", "");
  EXPECT_NE(prompt.find("(pid " + std::to_string(::getpid()) + ") wants to sign with"), std::string::npos)
      << prompt;
  Admin("biometry", {{"action", "cancel"}});
  EXPECT_EQ(Sign(s, priv, CKM_ECDSA, Bytes(32, 3), &sig), CKR_FUNCTION_CANCELED);
  Admin("biometry", {{"action", "no-match"}});
  EXPECT_EQ(Sign(s, priv, CKM_ECDSA, Bytes(32, 3), &sig), CKR_PIN_INCORRECT);

  Admin("biometry", {{"action", "reset"}});
  Admin("biometry", {{"action", "enroll"}, {"finger", "right-thumb"}});
  const int64_t prompts = Admin("biometry", {{"action", "status"}})["simulator"].value("prompts", int64_t{0});
  for (int i = 0; i < 3; ++i) {
    Admin("biometry", {{"action", "match"}});
    EXPECT_EQ(Sign(s, priv, CKM_ECDSA, Bytes(32, 3), &sig), CKR_KEY_FUNCTION_NOT_PERMITTED);
  }
  EXPECT_EQ(Admin("biometry", {{"action", "status"}})["simulator"].value("prompts", int64_t{0}), prompts);
}

}  // namespace
}  // namespace enclave::pkcs11::test
