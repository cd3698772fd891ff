#include "sshagent/host_key.h"

#include "crypto/foreign_keys.h"

namespace enclave::sshagent {
namespace {

Error NotVerified(const std::string& why) {
  return OSStatusError(errsec::kVerifyFailed, "session-bind: " + why).WithCause("verify-failed");
}

struct EcdsaCurve {
  std::string_view key_type, curve_name, openssl_curve;
  crypto::Hash hash;
  size_t scalar_size;
};

constexpr EcdsaCurve kCurves[] = {
    {"ecdsa-sha2-nistp256", "nistp256", "P-256", crypto::Hash::kSha256, 32},
    {"ecdsa-sha2-nistp384", "nistp384", "P-384", crypto::Hash::kSha384, 48},
    {"ecdsa-sha2-nistp521", "nistp521", "P-521", crypto::Hash::kSha512, 66},
};

bool VerifyEcdsa(const EcdsaCurve& c, Reader& key, ByteView sig_body, ByteView message) {
  auto curve = key.String(64);
  auto point = key.String(2 * c.scalar_size + 1);
  if (!curve || !point || !key.AtEnd() || ToString(*curve) != c.curve_name) return false;
  Reader rs(sig_body);
  auto r = rs.PositiveMpint(c.scalar_size);
  auto s = rs.PositiveMpint(c.scalar_size);
  if (!r || !s || !rs.AtEnd()) return false;
  return crypto::VerifyEcdsa(c.openssl_curve, *point, c.hash, message, *r, *s);
}

// For messages: a peer's type name may hold any bytes.
std::string Printable(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

}  // namespace

Status VerifySessionBind(const SessionBind& bind) {
  Reader key(bind.host_key);
  auto key_type = key.String(64);
  Reader sig(bind.signature);
  auto sig_type = sig.String(64);
  auto sig_body = sig.String(2048);
  if (!key_type || !sig_type || !sig_body || !sig.AtEnd())
    return NotVerified("malformed host key or signature");
  const std::string kt = ToString(*key_type), st = ToString(*sig_type);
  const ByteView message = bind.session_id;

  if (kt == "ssh-ed25519") {
    auto pk = key.String(32);
    if (st != kt || !pk || !key.AtEnd()) return NotVerified("malformed ssh-ed25519 host key or signature");
    if (!crypto::VerifyEd25519(*pk, message, *sig_body))
      return NotVerified("the ssh-ed25519 host signature is wrong");
    return Ok();
  }
  for (const auto& c : kCurves) {
    if (kt != c.key_type) continue;
    if (st != kt || !VerifyEcdsa(c, key, *sig_body, message)) {
      return NotVerified("the " + kt + " host signature is wrong");
    }
    return Ok();
  }
  if (kt == "ssh-rsa") {
    auto e = key.PositiveMpint(8);
    auto n = key.PositiveMpint(2048);
    if (!e || !n || !key.AtEnd()) return NotVerified("malformed ssh-rsa host key");
    crypto::Hash hash;
    if (st == "rsa-sha2-256") {
      hash = crypto::Hash::kSha256;
    } else if (st == "rsa-sha2-512") {
      hash = crypto::Hash::kSha512;
    } else {
      return NotVerified("ssh-rsa host signature of type '" + Printable(st) +
                         "' refused (only rsa-sha2-256/512)");
    }
    if (!crypto::VerifyRsaPkcs1(*n, *e, hash, message, *sig_body))
      return NotVerified("the ssh-rsa host signature is wrong");
    return Ok();
  }
  return OSStatusError(errsec::kParam, "session-bind: unsupported host key type '" + Printable(kt) + "'")
      .WithCause("bad-parameter");
}

std::string HostKeyFingerprint(ByteView key_blob) { return crypto::SshFingerprint(key_blob); }

}  // namespace enclave::sshagent
