// The ssh-agent protocol (draft-miller-ssh-agent) on the wire: frames, the SSH data types, the
// requests enclave serves, key and signature blobs. This is the only code that reads bytes from
// an agent peer (ssh, ssh-add, ssh-keygen, git, a forwarded agent) or an upstream agent: every
// length is checked against what is left before anything is read or allocated, strings and mpints
// are parsed strictly, and nothing here trusts a count. Fuzzed by sshagent/fuzz/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "common/bytes.h"
#include "common/result.h"

namespace enclave::sshagent {

// The largest message either side may send (OpenSSH's own agent limit).
inline constexpr size_t kMaxMessageSize = 256 * 1024;

enum MessageType : uint8_t {
  kFailure = 5,
  kSuccess = 6,
  kRequestIdentities = 11,
  kIdentitiesAnswer = 12,
  kSignRequest = 13,
  kSignResponse = 14,
  kAddIdentity = 17,
  kRemoveIdentity = 18,
  kRemoveAllIdentities = 19,
  kAddSmartcardKey = 20,
  kRemoveSmartcardKey = 21,
  kLock = 22,
  kUnlock = 23,
  kAddIdConstrained = 25,
  kAddSmartcardKeyConstrained = 26,
  kExtension = 27,
  kExtensionFailure = 28,
};

// Reads SSH data types (RFC 4251 §5) from untrusted bytes. A failed read returns nullopt and
// leaves the reader failed; callers check AtEnd() to refuse trailing bytes.
class Reader {
 public:
  explicit Reader(ByteView data) : data_(data) {}
  std::optional<uint8_t> Byte();
  std::optional<uint32_t> U32();
  std::optional<bool> Boolean();  // 0 or 1 only
  std::optional<ByteView> String(size_t max_size = kMaxMessageSize);
  // A non-negative mpint in its minimal encoding; returns the magnitude without a sign byte.
  std::optional<ByteView> PositiveMpint(size_t max_magnitude = 1024);
  bool AtEnd() const { return !failed_ && pos_ == data_.size(); }

 private:
  std::optional<ByteView> Take(size_t n);
  ByteView data_;
  size_t pos_ = 0;
  bool failed_ = false;
};

class Writer {
 public:
  Writer& Byte(uint8_t b);
  Writer& U32(uint32_t v);
  Writer& String(ByteView s);
  Writer& String(std::string_view s);
  // `magnitude` is big-endian unsigned; leading zeros are dropped and a sign byte added as needed.
  Writer& PositiveMpint(ByteView magnitude);
  Writer& Raw(ByteView b);
  const Bytes& bytes() const { return out_; }
  Bytes Take() { return std::move(out_); }

 private:
  Bytes out_;
};

// Frames: uint32 length || message, where a message is byte type || payload.
struct FrameSplit {
  enum class Status { kNeedMore, kFrame, kTooLarge, kEmpty };
  Status status = Status::kNeedMore;
  ByteView message;     // kFrame: type || payload
  size_t consumed = 0;  // kFrame: header and message
};
// Looks at the start of `buffer` for one whole frame. A zero length is kEmpty (a message has at
// least its type); a length over kMaxMessageSize is kTooLarge, decided from the header alone.
FrameSplit SplitFrame(ByteView buffer);
Bytes Frame(ByteView message);

// The requests enclave's agent distinguishes.
struct RequestIdentities {};
struct SignRequest {
  ByteView key_blob;
  ByteView data;
  uint32_t flags = 0;
};
struct RemoveIdentity {
  ByteView key_blob;
};
struct RemoveAllIdentities {};
struct Extension {
  std::string name;
  ByteView contents;
};
// Anything else (adding keys, smartcards, lock, unknown types): only an upstream agent may serve it.
struct OtherRequest {
  uint8_t type = 0;
};
using Request = std::variant<RequestIdentities, SignRequest, RemoveIdentity, RemoveAllIdentities, Extension,
                             OtherRequest>;

// Parses one message (a frame's content). Views point into `message`. Malformed: errSecParam
// with cause protocol-error.
Result<Request> ParseRequest(ByteView message);
std::string RequestName(uint8_t type);

// session-bind@openssh.com (OpenSSH >= 8.9): the server's host key, the session id, the host's
// signature over the session id, and whether the connection is for a forwarded agent.
struct SessionBind {
  ByteView host_key;
  ByteView session_id;
  ByteView signature;
  bool forwarding = false;
};
Result<SessionBind> ParseSessionBind(ByteView contents);

// An identities answer (from an upstream agent): key blobs and comments.
struct Identity {
  Bytes key_blob;
  std::string comment;
};
Result<std::vector<Identity>> ParseIdentitiesAnswer(ByteView message);
Bytes IdentitiesAnswer(const std::vector<Identity>& identities);

// ecdsa-sha2-nistp256 key blobs: string type || string "nistp256" || string Q (65 bytes).
Bytes EcdsaP256KeyBlob(ByteView x963);
// The X9.63 point of a P-256 key blob, or nullopt for any other key or a malformed blob.
std::optional<Bytes> EcdsaP256Point(ByteView key_blob);
// string "ecdsa-sha2-nistp256" || string(mpint r || mpint s), from a 64-byte r||s.
Bytes EcdsaP256SignatureBlob(ByteView raw_rs);

}  // namespace enclave::sshagent
