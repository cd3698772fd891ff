#include "webauthn/attestation.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>

#include "webauthn/cbor_util.h"
#include "webauthn/cose.h"
#include "webauthn/reason.h"

namespace enclave::webauthn {
namespace {

constexpr size_t kMaxCertificates = 8;

struct X509Deleter {
  void operator()(X509* p) const { X509_free(p); }
};
struct Asn1ObjectDeleter {
  void operator()(ASN1_OBJECT* p) const { ASN1_OBJECT_free(p); }
};
struct OctetStringDeleter {
  void operator()(ASN1_OCTET_STRING* p) const { ASN1_OCTET_STRING_free(p); }
};

bool HasSubjectEntry(X509_NAME* name, int nid, const char* want = nullptr) {
  int i = X509_NAME_get_index_by_NID(name, nid, -1);
  if (i < 0) return false;
  if (!want) return true;
  ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  return s && std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                               static_cast<size_t>(ASN1_STRING_length(s))) == want;
}

// The certificate requirements of §8.2.1.
Status CheckPackedCertificate(X509* cert, const std::array<uint8_t, 16>& aaguid) {
  if (X509_get_version(cert) != X509_VERSION_3)
    return Fail(kAttestationInvalid, "attestation certificate is not v3");
  X509_NAME* subject = X509_get_subject_name(cert);
  if (!HasSubjectEntry(subject, NID_countryName) || !HasSubjectEntry(subject, NID_organizationName) ||
      !HasSubjectEntry(subject, NID_commonName) ||
      !HasSubjectEntry(subject, NID_organizationalUnitName, "Authenticator Attestation"))
    return Fail(kAttestationInvalid,
                "attestation certificate subject lacks C, O, CN or OU=Authenticator Attestation");
  if (X509_get_extension_flags(cert) & EXFLAG_CA)
    return Fail(kAttestationInvalid, "attestation certificate is a CA");
  std::unique_ptr<ASN1_OBJECT, Asn1ObjectDeleter> oid(OBJ_txt2obj("1.3.6.1.4.1.45724.1.1.4", 1));
  int at = oid ? X509_get_ext_by_OBJ(cert, oid.get(), -1) : -1;
  if (at >= 0) {
    X509_EXTENSION* ext = X509_get_ext(cert, at);
    if (X509_EXTENSION_get_critical(ext))
      return Fail(kAttestationInvalid, "the AAGUID extension is critical");
    // The extension's value is an OCTET STRING holding the DER of an OCTET STRING of 16 bytes.
    ASN1_OCTET_STRING* outer = X509_EXTENSION_get_data(ext);
    const unsigned char* p = ASN1_STRING_get0_data(outer);
    std::unique_ptr<ASN1_OCTET_STRING, OctetStringDeleter> inner(
        d2i_ASN1_OCTET_STRING(nullptr, &p, ASN1_STRING_length(outer)));
    if (!inner || p != ASN1_STRING_get0_data(outer) + ASN1_STRING_length(outer) ||
        ASN1_STRING_length(inner.get()) != 16 ||
        !std::equal(aaguid.begin(), aaguid.end(), ASN1_STRING_get0_data(inner.get())))
      return Fail(kAttestationInvalid, "the certificate's AAGUID is not the authenticator data's");
  }
  return Ok();
}

}  // namespace

std::vector<uint8_t> EncodeAttestationObject(std::string_view fmt, std::span<const uint8_t> att_stmt,
                                             std::span<const uint8_t> auth_data) {
  cbor::Writer w;
  w.Map(3);
  w.Text("fmt");
  w.Text(fmt);
  w.Text("attStmt");
  w.Raw(att_stmt);
  w.Text("authData");
  w.Bytes(auth_data);
  return w.Take();
}

std::vector<uint8_t> EncodeNoneStatement() { return {0xa0}; }

std::vector<uint8_t> EncodePackedSelfStatement(std::span<const uint8_t> der_sig) {
  cbor::Writer w;
  w.Map(2);
  w.Text("alg");
  w.Int(kCoseAlgEs256);
  w.Text("sig");
  w.Bytes(der_sig);
  return w.Take();
}

Result<AttestationObject> ParseAttestationObject(std::span<const uint8_t> bytes) {
  ASSIGN_OR_RETURN(auto item, cbor::Decode(bytes));
  auto pairs = cbor::MapPairs(item.get());
  if (!pairs || pairs->size() != 3) return Fail(kMalformed, "attestation object is not a map of three keys");
  AttestationObject att;
  const cbor_item_t* stmt = nullptr;
  bool have_fmt = false, have_data = false;
  for (const cbor_pair& p : *pairs) {
    auto key = cbor::AsText(p.key);
    if (!key) return Fail(kMalformed, "attestation object key is not text");
    if (*key == "fmt") {
      auto fmt = cbor::AsText(p.value);
      if (!fmt || fmt->empty() || fmt->size() > 32)
        return Fail(kMalformed, "attestation fmt is not short text");
      att.fmt = std::string(*fmt);
      have_fmt = true;
    } else if (*key == "attStmt") {
      stmt = p.value;
    } else if (*key == "authData") {
      auto data = cbor::AsBytes(p.value);
      if (!data) return Fail(kMalformed, "authData is not a byte string");
      att.auth_data_bytes.assign(data->begin(), data->end());
      have_data = true;
    } else {
      return Fail(kMalformed, "unknown key in the attestation object");
    }
  }
  auto stmt_pairs = stmt ? cbor::MapPairs(stmt) : std::nullopt;
  if (!have_fmt || !have_data || !stmt_pairs)
    return Fail(kMalformed, "attestation object lacks fmt, attStmt or authData");
  ASSIGN_OR_RETURN(att.auth_data, ParseAuthenticatorData(att.auth_data_bytes));
  if (att.fmt == kFmtNone) {
    if (!stmt_pairs->empty()) return Fail(kMalformed, "fmt none with a non-empty statement");
  } else if (att.fmt == kFmtPacked) {
    bool have_sig = false;
    for (const cbor_pair& p : *stmt_pairs) {
      auto key = cbor::AsText(p.key);
      if (key && *key == "alg") {
        att.alg = cbor::AsInt(p.value);
        if (!att.alg) return Fail(kMalformed, "packed alg is not an integer");
      } else if (key && *key == "sig") {
        auto sig = cbor::AsBytes(p.value);
        if (!sig) return Fail(kMalformed, "packed sig is not a byte string");
        att.sig.assign(sig->begin(), sig->end());
        have_sig = true;
      } else if (key && *key == "x5c") {
        if (!cbor_isa_array(p.value) || cbor_array_size(p.value) == 0 ||
            cbor_array_size(p.value) > kMaxCertificates)
          return Fail(kMalformed, "packed x5c is not an array of 1..8 certificates");
        for (size_t i = 0; i < cbor_array_size(p.value); ++i) {
          auto der = cbor::AsBytes(cbor_array_handle(p.value)[i]);
          if (!der) return Fail(kMalformed, "an x5c certificate is not a byte string");
          att.x5c.emplace_back(der->begin(), der->end());
        }
      } else {
        return Fail(kMalformed, "unknown key in a packed statement");
      }
    }
    if (!att.alg || !have_sig) return Fail(kMalformed, "packed statement without alg and sig");
  }
  return att;
}

const char* AttestationTypeName(AttestationType t) {
  switch (t) {
    case AttestationType::kNone:
      return "none";
    case AttestationType::kSelf:
      return "self";
    case AttestationType::kBasic:
      return "basic";
  }
  return "none";
}

Result<AttestationType> VerifyAttestation(const AttestationObject& att,
                                          std::span<const uint8_t> client_data_hash) {
  if (!att.auth_data.attested) return Fail(kMalformed, "registration without attested credential data");
  if (att.fmt == kFmtNone) return AttestationType::kNone;
  if (att.fmt != kFmtPacked)
    return Fail(kAttestationUnsupported, "attestation format " + att.fmt + " is not supported");
  std::vector<uint8_t> signed_bytes = att.auth_data_bytes;
  signed_bytes.insert(signed_bytes.end(), client_data_hash.begin(), client_data_hash.end());
  if (*att.alg != kCoseAlgEs256) return Fail(kUnsupportedAlgorithm, "packed attestation alg is not ES256");
  if (att.x5c.empty()) {
    ASSIGN_OR_RETURN(auto key, CoseToEvpPkey(att.auth_data.attested->cose_key));
    if (!VerifyEs256(key.get(), signed_bytes, att.sig))
      return Fail(kSignatureInvalid, "the self-attestation signature does not verify");
    return AttestationType::kSelf;
  }
  const unsigned char* p = att.x5c[0].data();
  std::unique_ptr<X509, X509Deleter> cert(d2i_X509(nullptr, &p, static_cast<long>(att.x5c[0].size())));
  if (!cert || p != att.x5c[0].data() + att.x5c[0].size()) {
    ERR_clear_error();
    return Fail(kMalformed, "the attestation certificate is not DER X.509");
  }
  RETURN_IF_ERROR(CheckPackedCertificate(cert.get(), att.auth_data.attested->aaguid));
  if (!VerifyEs256(X509_get0_pubkey(cert.get()), signed_bytes, att.sig))
    return Fail(kSignatureInvalid, "the packed attestation signature does not verify under its certificate");
  return AttestationType::kBasic;
}

}  // namespace enclave::webauthn
