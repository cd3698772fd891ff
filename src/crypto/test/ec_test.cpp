// P-256 keys, encodings, KDF and AES-GCM.
#include "crypto/ec.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

namespace enclave::crypto {
namespace {

EcPrivateKey NewKey() {
  auto key = EcPrivateKey::Generate();
  EXPECT_TRUE(key.ok());
  return std::move(key).value();
}

Bytes Base64Decode(const std::string& b64) {
  Bytes out(b64.size());
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  EXPECT_GT(n, 0);
  // EVP_DecodeBlock counts each '=' of padding as a decoded zero byte.
  size_t padding = 0;
  for (auto it = b64.rbegin(); it != b64.rend() && *it == '='; ++it) ++padding;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

TEST(Hash, SizesAndKnownAnswer) {
  EXPECT_EQ(DigestSize(Hash::kSha1), 20u);
  EXPECT_EQ(DigestSize(Hash::kSha224), 28u);
  EXPECT_EQ(DigestSize(Hash::kSha256), 32u);
  EXPECT_EQ(DigestSize(Hash::kSha384), 48u);
  EXPECT_EQ(DigestSize(Hash::kSha512), 64u);
  EXPECT_EQ(HashName(Hash::kSha256), "SHA256");
  EXPECT_EQ(HexEncode(Digest(Hash::kSha256, AsBytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_NE(RandomBytes(32), RandomBytes(32));
  EXPECT_EQ(RandomSecret(16).size(), 16u);
}

TEST(EcPrivateKey, GenerateGivesValidPointAndScalarRoundTrips) {
  EcPrivateKey key = NewKey();
  const Bytes x963 = key.PublicKey().X963();
  ASSERT_EQ(x963.size(), 65u);
  EXPECT_EQ(x963[0], 0x04);
  SecureBytes d = key.Scalar();
  ASSERT_EQ(d.size(), 32u);
  auto again = EcPrivateKey::FromScalar(d);
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_EQ(again->PublicKey().X963(), x963);
  EXPECT_EQ(again->Scalar(), d);
}

TEST(EcPrivateKey, FromScalarRejectsOutOfRange) {
  EXPECT_FALSE(EcPrivateKey::FromScalar(Bytes(32, 0)).ok());
  EXPECT_FALSE(EcPrivateKey::FromScalar(Bytes(31, 1)).ok());
  EXPECT_FALSE(EcPrivateKey::FromScalar(Bytes(33, 1)).ok());
  const Bytes n = *HexDecode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
  auto at_n = EcPrivateKey::FromScalar(n);
  ASSERT_FALSE(at_n.ok());
  EXPECT_EQ(at_n.error().code, errsec::kParam);
  EXPECT_FALSE(EcPrivateKey::FromScalar(Bytes(32, 0xff)).ok());
  Bytes n_minus_1 = n;
  n_minus_1.back() = 0x50;
  EXPECT_TRUE(EcPrivateKey::FromScalar(n_minus_1).ok());
  Bytes one(32, 0);
  one.back() = 1;
  auto key_one = EcPrivateKey::FromScalar(one);
  ASSERT_TRUE(key_one.ok());
  // 1·G is the generator.
  EXPECT_EQ(HexEncode(key_one->PublicKey().X963()),
            "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
            "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
}

TEST(EcPrivateKey, SignDigestVerifies) {
  EcPrivateKey key = NewKey();
  const Bytes digest = Digest(Hash::kSha256, AsBytes("message"));
  auto sig = key.SignDigestDer(digest);
  ASSERT_TRUE(sig.ok());
  EcPublicKey pub = key.PublicKey();
  EXPECT_TRUE(pub.VerifyDigestDer(digest, *sig));
  Bytes other = digest;
  other[0] ^= 1;
  EXPECT_FALSE(pub.VerifyDigestDer(other, *sig));
  Bytes bad_sig = *sig;
  bad_sig[bad_sig.size() - 1] ^= 1;
  EXPECT_FALSE(pub.VerifyDigestDer(digest, bad_sig));
  EXPECT_FALSE(NewKey().PublicKey().VerifyDigestDer(digest, *sig));
  EXPECT_FALSE(key.SignDigestDer({}).ok());
}

TEST(EcPrivateKey, EcdhBothSidesAgree) {
  EcPrivateKey a = NewKey();
  EcPrivateKey b = NewKey();
  auto ab = a.SharedSecret(b.PublicKey());
  auto ba = b.SharedSecret(a.PublicKey());
  ASSERT_TRUE(ab.ok());
  ASSERT_TRUE(ba.ok());
  EXPECT_EQ(ab->size(), 32u);
  EXPECT_EQ(*ab, *ba);
  EXPECT_FALSE(*ab == *a.SharedSecret(NewKey().PublicKey()));
}

TEST(SignatureEncoding, DerRawRoundTrip) {
  EcPrivateKey key = NewKey();
  for (int i = 0; i < 20; ++i) {
    const Bytes digest = RandomBytes(32);
    auto der = key.SignDigestDer(digest);
    ASSERT_TRUE(der.ok());
    auto raw = DerSignatureToRaw(*der);
    ASSERT_TRUE(raw.ok());
    ASSERT_EQ(raw->size(), 64u);
    auto back = RawSignatureToDer(*raw);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, *der);
  }
  EXPECT_FALSE(DerSignatureToRaw(AsBytes("not der")).ok());
  EXPECT_FALSE(RawSignatureToDer(Bytes(63, 1)).ok());
  auto der = *key.SignDigestDer(RandomBytes(32));
  der.push_back(0);
  EXPECT_FALSE(DerSignatureToRaw(der).ok()) << "trailing bytes must be refused";
}

TEST(EcPublicKey, ParsesEveryEncodingToTheSameKey) {
  EcPublicKey pub = NewKey().PublicKey();
  const Bytes x963 = pub.X963();
  const Bytes der = pub.SpkiDer();
  const std::string pem = pub.SpkiPem();
  ASSERT_EQ(der.size(), 91u);  // named-curve P-256 SPKI
  EXPECT_EQ(pem.rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u);

  auto from_der = EcPublicKey::FromSpkiDer(der);
  auto from_pem = EcPublicKey::FromPem(pem);
  ASSERT_TRUE(from_der.ok());
  ASSERT_TRUE(from_pem.ok());
  EXPECT_EQ(from_der->X963(), x963);
  EXPECT_EQ(from_pem->X963(), x963);
  for (const Bytes& any : {x963, der, ToBytes(pem)}) {
    auto parsed = EcPublicKey::Parse(any);
    ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
    EXPECT_EQ(parsed->X963(), x963);
  }
  EcPublicKey copy = pub;
  EXPECT_EQ(copy.X963(), x963);
  copy = *from_der;
  EXPECT_EQ(copy.SpkiDer(), der);
}

TEST(EcPublicKey, RejectsGarbageAndOffCurvePoints) {
  for (const Bytes& bad : {Bytes{}, ToBytes("garbage"), Bytes(65, 0x04), Bytes(64, 0x01), Bytes(91, 0x30),
                           ToBytes("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")}) {
    auto parsed = EcPublicKey::Parse(bad);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().code, errsec::kParam);
  }
  Bytes off_curve = NewKey().PublicKey().X963();
  off_curve[64] ^= 1;
  auto parsed = EcPublicKey::FromX963(off_curve);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().description.find("not on the P-256 curve"), std::string::npos);

  Bytes der = NewKey().PublicKey().SpkiDer();
  der.back() ^= 1;  // last byte of Y: no longer on the curve
  EXPECT_FALSE(EcPublicKey::FromSpkiDer(der).ok());

  // A compressed point is not an X9.63 uncompressed point.
  Bytes compressed(33, 0x02);
  EXPECT_FALSE(EcPublicKey::FromX963(compressed).ok());
}

TEST(EcPublicKey, RejectsOtherCurves) {
  // A P-384 SPKI (from OpenSSL) must not parse as a P-256 key.
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"),
                                                           EVP_PKEY_free);
  ASSERT_TRUE(p384);
  unsigned char* out = nullptr;
  int n = i2d_PUBKEY(p384.get(), &out);
  ASSERT_GT(n, 0);
  Bytes der(out, out + n);
  OPENSSL_free(out);
  auto parsed = EcPublicKey::FromSpkiDer(der);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().description.find("P-256"), std::string::npos);
}

TEST(EcPublicKey, OpenSshLine) {
  EcPublicKey pub = NewKey().PublicKey();
  const std::string line = pub.OpenSsh("me@host");
  const std::string prefix = "ecdsa-sha2-nistp256 ";
  ASSERT_EQ(line.rfind(prefix, 0), 0u);
  const size_t space = line.find(' ', prefix.size());
  ASSERT_NE(space, std::string::npos);
  EXPECT_EQ(line.substr(space + 1), "me@host");
  const Bytes blob = Base64Decode(line.substr(prefix.size(), space - prefix.size()));
  Bytes expected;
  auto put = [&](ByteView s) {
    for (int shift : {24, 16, 8, 0}) expected.push_back(static_cast<uint8_t>(s.size() >> shift));
    expected.insert(expected.end(), s.begin(), s.end());
  };
  put(AsBytes("ecdsa-sha2-nistp256"));
  put(AsBytes("nistp256"));
  put(pub.X963());
  EXPECT_EQ(blob, expected);
  EXPECT_EQ(pub.OpenSsh("").find(' ', prefix.size()), std::string::npos);
}

TEST(X963Kdf, KnownAnswerAndLengths) {
  // NIST CAVS X9.63 KDF vector: SHA-256, 24-byte shared secret, no shared info, 128-bit output.
  const Bytes z = *HexDecode("96c05619d56c328ab95fe84b18264b08725b85e33fd34f08");
  const SecureBytes k = X963Kdf(Hash::kSha256, z, {}, 16);
  EXPECT_EQ(HexEncode(k), "443024c3dae66b95e6f5670601558f71");
  EXPECT_EQ(X963Kdf(Hash::kSha256, z, {}, 100).size(), 100u);
  // A longer output starts with the shorter one.
  EXPECT_EQ(HexEncode(X963Kdf(Hash::kSha256, z, {}, 40)).substr(0, 32), HexEncode(k));
}

TEST(AesGcm, SealOpenAndTamper) {
  const SecureBytes key = RandomSecret(32);
  const Bytes iv = RandomBytes(12);
  const Bytes aad = ToBytes("header");
  auto sealed = AesGcmSeal(key, iv, aad, AsBytes("secret data"));
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->size(), 11u + 16u);
  auto opened = AesGcmOpen(key, iv, aad, *sealed);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(ToString(*opened), "secret data");

  Bytes tampered = *sealed;
  tampered[0] ^= 1;
  auto bad = AesGcmOpen(key, iv, aad, tampered);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, errsec::kParam);
  EXPECT_EQ(bad.error().effective_cause(), "decrypt-failed");
  EXPECT_FALSE(AesGcmOpen(key, iv, ToBytes("other"), *sealed).ok());
  EXPECT_FALSE(AesGcmOpen(key, iv, aad, ByteView(sealed->data(), 10)).ok());
  EXPECT_FALSE(AesGcmSeal(RandomSecret(24), iv, aad, AsBytes("x")).ok());
  EXPECT_FALSE(AesGcmSeal(key, RandomBytes(8), aad, AsBytes("x")).ok());

  // 16-byte IVs (ECIES) and empty plaintexts work too.
  const Bytes iv16(16, 0);
  auto empty = AesGcmSeal(RandomSecret(16), iv16, {}, {});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->size(), 16u);
}

TEST(AesGcm, KnownAnswerWith16ByteIv) {
  // From the Apple si-44 SHA-1 vector's derived values: a 16-byte IV makes GCM run GHASH over
  // the IV, so a 12-byte-only implementation would fail here.
  const Bytes key = *HexDecode("4ad78021769517e45823e32c4dcc72bf");
  const Bytes iv(16, 0);
  const Bytes ct_tag = *HexDecode("fbcd3d353c0f60c166aefc15dbf3fd4941aef34de209d6fb05ee04ab4dc316c4");
  auto plain = AesGcmOpen(key, iv, {}, ct_tag);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(ToString(*plain), std::string("KNOWN PLAINTEXT\0", 16));
}

}  // namespace
}  // namespace enclave::crypto
