// session-bind host-key signatures: the key types ssh servers use, verified with OpenSSL; keys and
// signatures here are made with OpenSSL as a server would make them.
#include "sshagent/host_key.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <memory>

#include "sshagent/wire.h"

namespace enclave::sshagent {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;

Bytes SignWith(EVP_PKEY* key, const EVP_MD* md, ByteView msg) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  size_t len = 0;
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key), 1);
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &len, msg.data(), msg.size()), 1);
  Bytes sig(len);
  EXPECT_EQ(EVP_DigestSign(ctx.get(), sig.data(), &len, msg.data(), msg.size()), 1);
  sig.resize(len);
  return sig;
}

Bytes BnBytes(const BIGNUM* bn) {
  Bytes b(static_cast<size_t>(BN_num_bytes(bn)));
  BN_bn2bin(bn, b.data());
  return b;
}

Bytes GetBn(EVP_PKEY* key, const char* name) {
  BIGNUM* raw = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(key, name, &raw), 1);
  Bn bn(raw);
  return BnBytes(bn.get());
}

Bytes SigBlob(std::string_view type, ByteView body) {
  Writer w;
  w.String(type).String(body);
  return w.Take();
}

const Bytes kSessionId(32, 0x5a);

Status Check(const Bytes& key, const Bytes& sig, const Bytes& sid = kSessionId) {
  return VerifySessionBind(SessionBind{key, sid, sig, false});
}

TEST(SshAgentHostKey, Ed25519) {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_TRUE(key);
  Bytes pub(32);
  size_t len = pub.size();
  ASSERT_EQ(EVP_PKEY_get_raw_public_key(key.get(), pub.data(), &len), 1);
  Writer blob;
  blob.String(std::string_view("ssh-ed25519")).String(ByteView(pub));
  const Bytes sig = SigBlob("ssh-ed25519", SignWith(key.get(), nullptr, kSessionId));
  EXPECT_TRUE(Check(blob.bytes(), sig).ok());
  Bytes other_sid = kSessionId;
  other_sid[0] ^= 1;
  EXPECT_EQ(Check(blob.bytes(), sig, other_sid).error().cause, "verify-failed");
  EXPECT_FALSE(Check(blob.bytes(), SigBlob("ssh-rsa", SignWith(key.get(), nullptr, kSessionId))).ok());
  EXPECT_EQ(HostKeyFingerprint(blob.bytes()).rfind("SHA256:", 0), 0u);
  EXPECT_EQ(HostKeyFingerprint(blob.bytes()).size(), 7u + 43u);
}

TEST(SshAgentHostKey, EcdsaP256AndP384) {
  struct Case {
    const char *curve, *type, *name;
    const EVP_MD* md;
  };
  for (const Case& c : {Case{"P-256", "ecdsa-sha2-nistp256", "nistp256", EVP_sha256()},
                        Case{"P-384", "ecdsa-sha2-nistp384", "nistp384", EVP_sha384()}}) {
    Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", c.curve));
    ASSERT_TRUE(key);
    Bytes point(200);
    size_t len = 0;
    ASSERT_EQ(
        EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size(), &len),
        1);
    point.resize(len);
    Writer blob;
    blob.String(std::string_view(c.type)).String(std::string_view(c.name)).String(ByteView(point));
    const Bytes der = SignWith(key.get(), c.md, kSessionId);
    const unsigned char* p = der.data();
    ECDSA_SIG* raw = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
    ASSERT_NE(raw, nullptr);
    Writer rs;
    rs.PositiveMpint(ByteView(BnBytes(ECDSA_SIG_get0_r(raw))))
        .PositiveMpint(ByteView(BnBytes(ECDSA_SIG_get0_s(raw))));
    ECDSA_SIG_free(raw);
    const Bytes sig = SigBlob(c.type, rs.bytes());
    EXPECT_TRUE(Check(blob.bytes(), sig).ok()) << c.type;
    Bytes tampered = sig;
    tampered.back() ^= 1;
    EXPECT_FALSE(Check(blob.bytes(), tampered).ok()) << c.type;
  }
}

TEST(SshAgentHostKey, RsaSha2OnlyAndUnknownTypes) {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
  ASSERT_TRUE(key);
  Writer blob;
  blob.String(std::string_view("ssh-rsa"))
      .PositiveMpint(ByteView(GetBn(key.get(), OSSL_PKEY_PARAM_RSA_E)))
      .PositiveMpint(ByteView(GetBn(key.get(), OSSL_PKEY_PARAM_RSA_N)));
  EXPECT_TRUE(
      Check(blob.bytes(), SigBlob("rsa-sha2-512", SignWith(key.get(), EVP_sha512(), kSessionId))).ok());
  EXPECT_TRUE(
      Check(blob.bytes(), SigBlob("rsa-sha2-256", SignWith(key.get(), EVP_sha256(), kSessionId))).ok());
  EXPECT_FALSE(Check(blob.bytes(), SigBlob("ssh-rsa", SignWith(key.get(), EVP_sha1(), kSessionId))).ok());
  EXPECT_FALSE(
      Check(blob.bytes(), SigBlob("rsa-sha2-256", SignWith(key.get(), EVP_sha512(), kSessionId))).ok());

  Writer unknown;
  unknown.String(std::string_view("ssh-dss")).String(std::string_view("x"));
  auto s = Check(unknown.bytes(), SigBlob("ssh-dss", Bytes(40)));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().cause, "bad-parameter");
}

}  // namespace
}  // namespace enclave::sshagent
