// Conversions between enclave::Api's types and the wire messages (proto/enclave.proto), shared by
// enclaved and the client library. Decoding accepts whatever a well-formed message holds: the
// service validates values (algorithms, sizes) as it would for an in-process caller. Only JSON
// embedded in messages needs care here, and ParseJsonBounded bounds it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/error.h"
#include "common/result.h"
#include "enclave.pb.h"
#include "service/api.h"

namespace enclave::daemon {

// Nesting deeper than this in JSON from a peer is refused (recursion in JSON libraries is not
// ours to bound otherwise).
inline constexpr int kMaxJsonDepth = 64;

void ToWire(const KeyInfo& in, wire::KeyInfo* out);
void ToWire(const KeySpec& in, wire::KeySpec* out);
void ToWire(const KeyQuery& in, wire::KeyQuery* out);
void ToWire(const KeyChanges& in, wire::KeyChanges* out);
void ToWire(const AuthOptions& in, wire::AuthOptions* out);
void ToWire(const OperationResult& in, wire::OperationResult* out);
void ToWire(const ReenrollResult& in, wire::ReenrollResult* out);
void ToWire(const Error& in, wire::Error* out);

KeyInfo FromWire(const wire::KeyInfo& in);
KeySpec FromWire(const wire::KeySpec& in);
KeyQuery FromWire(const wire::KeyQuery& in);
KeyChanges FromWire(const wire::KeyChanges& in);
AuthOptions FromWire(const wire::AuthOptions& in);
OperationResult FromWire(const wire::OperationResult& in);
ReenrollResult FromWire(const wire::ReenrollResult& in);
Error FromWire(const wire::Error& in);

// JSON text from a peer: nesting bounded, never throws; an error is errSecParam/protocol-error.
Result<nlohmann::json> ParseJsonBounded(std::string_view text);
// Never throws (invalid UTF-8 is replaced).
std::string DumpJson(const nlohmann::json& j);

// The error for a frame that is too large or is not a message: errSecParam, "protocol-error".
Error ProtocolError(const std::string& detail);
wire::Response ErrorResponse(uint64_t id, const Error& error);

// Overwrites the secrets a request carries (passcodes, application passwords, admin secrets)
// once they have been copied into SecureBytes, so that no plain copy outlives the request.
void WipeSecrets(wire::Request* request);
// Overwrites a buffer that held an encoded request.
void WipeBuffer(Bytes* buffer);

// The request's kind for logs ("sign", "create_key", ...), "unknown" when no op is set.
std::string RequestKind(const wire::Request& request);

namespace internal {
// Everything a daemon does with the bytes of a connection before a request reaches the service:
// frames read, decoded and converted. The libFuzzer target and a gtest call it with arbitrary
// input; it must never crash, hang or allocate beyond the frame limit.
int FuzzConnectionBytes(ByteView data);
}  // namespace internal

}  // namespace enclave::daemon
