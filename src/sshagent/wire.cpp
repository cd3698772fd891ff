#include "sshagent/wire.h"

namespace enclave::sshagent {
namespace {

constexpr std::string_view kEcdsaP256 = "ecdsa-sha2-nistp256";
constexpr size_t kMaxIdentities = 1024;

Error Malformed(const std::string& what) {
  return OSStatusError(errsec::kParam, "malformed ssh-agent message: " + what).WithCause("protocol-error");
}

uint32_t LoadU32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

std::optional<ByteView> Reader::Take(size_t n) {
  if (failed_ || n > data_.size() - pos_) {
    failed_ = true;
    return std::nullopt;
  }
  ByteView out = data_.subspan(pos_, n);
  pos_ += n;
  return out;
}

std::optional<uint8_t> Reader::Byte() {
  auto b = Take(1);
  if (!b) return std::nullopt;
  return (*b)[0];
}

std::optional<uint32_t> Reader::U32() {
  auto b = Take(4);
  if (!b) return std::nullopt;
  return LoadU32(b->data());
}

std::optional<bool> Reader::Boolean() {
  auto b = Byte();
  if (!b || *b > 1) {
    failed_ = true;
    return std::nullopt;
  }
  return *b == 1;
}

std::optional<ByteView> Reader::String(size_t max_size) {
  auto n = U32();
  if (!n) return std::nullopt;
  if (*n > max_size) {
    failed_ = true;
    return std::nullopt;
  }
  return Take(*n);
}

std::optional<ByteView> Reader::PositiveMpint(size_t max_magnitude) {
  auto s = String(max_magnitude + 1);
  if (!s) return std::nullopt;
  ByteView v = *s;
  if (v.empty()) return v;  // zero
  // Negative numbers, and leading zero bytes that are not needed as a sign byte, are refused
  // (RFC 4251: "unnecessary leading bytes ... MUST NOT be included").
  if ((v[0] & 0x80) != 0 || (v[0] == 0 && (v.size() == 1 || (v[1] & 0x80) == 0))) {
    failed_ = true;
    return std::nullopt;
  }
  if (v[0] == 0) v = v.subspan(1);
  if (v.size() > max_magnitude) {
    failed_ = true;
    return std::nullopt;
  }
  return v;
}

Writer& Writer::Byte(uint8_t b) {
  out_.push_back(b);
  return *this;
}

Writer& Writer::U32(uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out_.push_back(static_cast<uint8_t>(v >> shift));
  return *this;
}

Writer& Writer::String(ByteView s) {
  U32(static_cast<uint32_t>(s.size()));
  return Raw(s);
}

Writer& Writer::String(std::string_view s) { return String(AsBytes(s)); }

Writer& Writer::PositiveMpint(ByteView magnitude) {
  size_t skip = 0;
  while (skip < magnitude.size() && magnitude[skip] == 0) ++skip;
  ByteView m = magnitude.subspan(skip);
  const bool sign_byte = !m.empty() && (m[0] & 0x80) != 0;
  U32(static_cast<uint32_t>(m.size() + (sign_byte ? 1 : 0)));
  if (sign_byte) out_.push_back(0);
  return Raw(m);
}

Writer& Writer::Raw(ByteView b) {
  out_.insert(out_.end(), b.begin(), b.end());
  return *this;
}

FrameSplit SplitFrame(ByteView buffer) {
  FrameSplit split;
  if (buffer.size() < 4) return split;
  const uint32_t len = LoadU32(buffer.data());
  if (len == 0) {
    split.status = FrameSplit::Status::kEmpty;
    return split;
  }
  if (len > kMaxMessageSize) {
    split.status = FrameSplit::Status::kTooLarge;
    return split;
  }
  if (buffer.size() - 4 < len) return split;
  split.status = FrameSplit::Status::kFrame;
  split.message = buffer.subspan(4, len);
  split.consumed = 4 + size_t{len};
  return split;
}

Bytes Frame(ByteView message) {
  Writer w;
  w.String(message);
  return w.Take();
}

Result<Request> ParseRequest(ByteView message) {
  Reader r(message);
  auto type = r.Byte();
  if (!type) return Malformed("empty message");
  switch (*type) {
    case kRequestIdentities:
      if (!r.AtEnd()) return Malformed("trailing bytes after REQUEST_IDENTITIES");
      return Request(RequestIdentities{});
    case kSignRequest: {
      auto blob = r.String();
      auto data = r.String();
      auto flags = r.U32();
      if (!blob || !data || !flags || !r.AtEnd()) return Malformed("SIGN_REQUEST");
      return Request(SignRequest{*blob, *data, *flags});
    }
    case kRemoveIdentity: {
      auto blob = r.String();
      if (!blob || !r.AtEnd()) return Malformed("REMOVE_IDENTITY");
      return Request(RemoveIdentity{*blob});
    }
    case kRemoveAllIdentities:
      if (!r.AtEnd()) return Malformed("trailing bytes after REMOVE_ALL_IDENTITIES");
      return Request(RemoveAllIdentities{});
    case kExtension: {
      auto name = r.String(256);
      if (!name || name->empty()) return Malformed("EXTENSION without a name");
      for (uint8_t c : *name) {
        if (c < 0x21 || c > 0x7e) return Malformed("EXTENSION name is not printable ASCII");
      }
      // The rest of the message is the extension's own contents.
      return Request(Extension{ToString(*name), message.subspan(5 + name->size())});
    }
    default:
      return Request(OtherRequest{*type});
  }
}

std::string RequestName(uint8_t type) {
  switch (type) {
    case kRequestIdentities:
      return "request-identities";
    case kSignRequest:
      return "sign";
    case kAddIdentity:
      return "add-identity";
    case kRemoveIdentity:
      return "remove-identity";
    case kRemoveAllIdentities:
      return "remove-all-identities";
    case kAddSmartcardKey:
      return "add-smartcard-key";
    case kRemoveSmartcardKey:
      return "remove-smartcard-key";
    case kLock:
      return "lock";
    case kUnlock:
      return "unlock";
    case kAddIdConstrained:
      return "add-identity-constrained";
    case kAddSmartcardKeyConstrained:
      return "add-smartcard-key-constrained";
    case kExtension:
      return "extension";
    default:
      return "type-" + std::to_string(type);
  }
}

Result<SessionBind> ParseSessionBind(ByteView contents) {
  Reader r(contents);
  auto key = r.String(16 * 1024);
  auto sid = r.String(128);
  auto sig = r.String(16 * 1024);
  auto fwd = r.Boolean();
  if (!key || !sid || !sig || !fwd || !r.AtEnd()) return Malformed("session-bind@openssh.com");
  if (key->empty() || sid->empty() || sig->empty())
    return Malformed("session-bind@openssh.com with an empty field");
  return SessionBind{*key, *sid, *sig, *fwd};
}

Result<std::vector<Identity>> ParseIdentitiesAnswer(ByteView message) {
  Reader r(message);
  auto type = r.Byte();
  auto count = r.U32();
  if (!type || *type != kIdentitiesAnswer || !count) return Malformed("IDENTITIES_ANSWER");
  // Each identity takes at least 8 bytes, so a count larger than that is a lie.
  if (*count > kMaxIdentities || *count > message.size() / 8) return Malformed("IDENTITIES_ANSWER count");
  std::vector<Identity> out;
  out.reserve(*count);
  for (uint32_t i = 0; i < *count; ++i) {
    auto blob = r.String();
    auto comment = r.String(4096);
    if (!blob || !comment) return Malformed("IDENTITIES_ANSWER identity");
    out.push_back({Bytes(blob->begin(), blob->end()), ToString(*comment)});
  }
  if (!r.AtEnd()) return Malformed("trailing bytes after IDENTITIES_ANSWER");
  return out;
}

Bytes IdentitiesAnswer(const std::vector<Identity>& identities) {
  Writer w;
  w.Byte(kIdentitiesAnswer).U32(static_cast<uint32_t>(identities.size()));
  for (const auto& id : identities) w.String(ByteView(id.key_blob)).String(std::string_view(id.comment));
  return w.Take();
}

Bytes EcdsaP256KeyBlob(ByteView x963) {
  Writer w;
  w.String(kEcdsaP256).String(std::string_view("nistp256")).String(x963);
  return w.Take();
}

std::optional<Bytes> EcdsaP256Point(ByteView key_blob) {
  Reader r(key_blob);
  auto type = r.String(64);
  auto curve = r.String(64);
  auto point = r.String(65);
  if (!type || !curve || !point || !r.AtEnd()) return std::nullopt;
  if (ToString(*type) != kEcdsaP256 || ToString(*curve) != "nistp256") return std::nullopt;
  if (point->size() != 65 || (*point)[0] != 0x04) return std::nullopt;
  return Bytes(point->begin(), point->end());
}

Bytes EcdsaP256SignatureBlob(ByteView raw_rs) {
  Writer inner;
  inner.PositiveMpint(raw_rs.subspan(0, raw_rs.size() / 2)).PositiveMpint(raw_rs.subspan(raw_rs.size() / 2));
  Writer w;
  w.String(kEcdsaP256).String(ByteView(inner.bytes()));
  return w.Take();
}

}  // namespace enclave::sshagent
