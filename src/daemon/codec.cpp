#include "daemon/codec.h"

#include <openssl/crypto.h>

#include <cstring>

#include "common/json_depth.h"
#include "daemon/frame.h"

namespace enclave::daemon {
namespace {

Bytes B(const std::string& s) { return Bytes(s.begin(), s.end()); }
std::string S(ByteView b) { return std::string(b.begin(), b.end()); }
SecureBytes Secret(const std::string& s) { return SecureBytes(AsBytes(s)); }

}  // namespace

void ToWire(const KeyInfo& in, wire::KeyInfo* out) {
  out->set_kid(in.kid);
  out->set_persistent_id(in.persistent_id);
  out->set_description(in.description);
  out->set_label(in.label);
  out->set_application_label(S(in.application_label));
  out->set_application_tag(S(in.application_tag));
  out->set_access_group(in.access_group);
  out->set_token(in.token);
  out->set_key_class(in.key_class);
  out->set_key_type(in.key_type);
  out->set_key_size(in.key_size);
  out->set_permanent(in.permanent);
  out->set_can_sign(in.can_sign);
  out->set_can_derive(in.can_derive);
  out->set_can_decrypt(in.can_decrypt);
  out->set_created_ms(in.created_ms);
  out->set_modified_ms(in.modified_ms);
  out->set_accessible(in.accessible);
  for (const auto& a : in.access_control) out->add_access_control(a);
  out->set_public_key_x963(S(in.public_key_x963));
  out->set_ssh(in.ssh);
}

KeyInfo FromWire(const wire::KeyInfo& in) {
  KeyInfo k;
  k.kid = in.kid();
  k.persistent_id = in.persistent_id();
  k.description = in.description();
  k.label = in.label();
  k.application_label = B(in.application_label());
  k.application_tag = B(in.application_tag());
  k.access_group = in.access_group();
  k.token = in.token();
  k.key_class = in.key_class();
  k.key_type = in.key_type();
  k.key_size = in.key_size();
  k.permanent = in.permanent();
  k.can_sign = in.can_sign();
  k.can_derive = in.can_derive();
  k.can_decrypt = in.can_decrypt();
  k.created_ms = in.created_ms();
  k.modified_ms = in.modified_ms();
  k.accessible = in.accessible();
  k.access_control.assign(in.access_control().begin(), in.access_control().end());
  k.public_key_x963 = B(in.public_key_x963());
  k.ssh = in.ssh();
  return k;
}

void ToWire(const KeySpec& in, wire::KeySpec* out) {
  if (in.label) out->set_label(*in.label);
  if (in.application_label) out->set_application_label(S(*in.application_label));
  if (in.application_tag) out->set_application_tag(S(*in.application_tag));
  if (in.access_group) out->set_access_group(*in.access_group);
  out->set_token(in.token);
  out->set_accessible(in.accessible);
  for (const auto& a : in.access_control) out->add_access_control(a);
  out->set_permanent(in.permanent);
  if (in.can_sign) out->set_can_sign(*in.can_sign);
  if (in.can_derive) out->set_can_derive(*in.can_derive);
  if (in.can_decrypt) out->set_can_decrypt(*in.can_decrypt);
  if (in.application_password) out->set_application_password(*in.application_password);
  out->set_key_type(in.key_type);
  out->set_key_size(in.key_size);
  out->set_ssh(in.ssh);
}

KeySpec FromWire(const wire::KeySpec& in) {
  KeySpec s;
  if (in.has_label()) s.label = in.label();
  if (in.has_application_label()) s.application_label = B(in.application_label());
  if (in.has_application_tag()) s.application_tag = B(in.application_tag());
  if (in.has_access_group()) s.access_group = in.access_group();
  // An empty string is how proto3 sends "not set": keep the API's defaults then.
  if (!in.token().empty()) s.token = in.token();
  if (!in.accessible().empty()) s.accessible = in.accessible();
  s.access_control.assign(in.access_control().begin(), in.access_control().end());
  s.permanent = in.permanent();
  if (in.has_can_sign()) s.can_sign = in.can_sign();
  if (in.has_can_derive()) s.can_derive = in.can_derive();
  if (in.has_can_decrypt()) s.can_decrypt = in.can_decrypt();
  if (in.has_application_password()) s.application_password = in.application_password();
  s.key_type = in.key_type();
  s.key_size = in.key_size();
  s.ssh = in.ssh();
  return s;
}

void ToWire(const KeyQuery& in, wire::KeyQuery* out) {
  if (in.kid) out->set_kid(*in.kid);
  if (in.persistent_id) out->set_persistent_id(*in.persistent_id);
  if (in.label) out->set_label(*in.label);
  if (in.application_label) out->set_application_label(S(*in.application_label));
  if (in.application_tag) out->set_application_tag(S(*in.application_tag));
  if (in.access_group) out->set_access_group(*in.access_group);
  if (in.token) out->set_token(*in.token);
  if (in.ssh) out->set_ssh(*in.ssh);
  out->set_match_all(in.match_all);
}

KeyQuery FromWire(const wire::KeyQuery& in) {
  KeyQuery q;
  if (in.has_kid()) q.kid = in.kid();
  if (in.has_persistent_id()) q.persistent_id = in.persistent_id();
  if (in.has_label()) q.label = in.label();
  if (in.has_application_label()) q.application_label = B(in.application_label());
  if (in.has_application_tag()) q.application_tag = B(in.application_tag());
  if (in.has_access_group()) q.access_group = in.access_group();
  if (in.has_token()) q.token = in.token();
  if (in.has_ssh()) q.ssh = in.ssh();
  q.match_all = in.match_all();
  return q;
}

void ToWire(const KeyChanges& in, wire::KeyChanges* out) {
  if (in.label) out->set_label(*in.label);
  if (in.application_tag) out->set_application_tag(S(*in.application_tag));
  if (in.can_sign) out->set_can_sign(*in.can_sign);
  if (in.can_derive) out->set_can_derive(*in.can_derive);
  if (in.can_decrypt) out->set_can_decrypt(*in.can_decrypt);
  if (in.ssh) out->set_ssh(*in.ssh);
}

KeyChanges FromWire(const wire::KeyChanges& in) {
  KeyChanges c;
  if (in.has_label()) c.label = in.label();
  if (in.has_application_tag()) c.application_tag = B(in.application_tag());
  if (in.has_can_sign()) c.can_sign = in.can_sign();
  if (in.has_can_derive()) c.can_derive = in.can_derive();
  if (in.has_can_decrypt()) c.can_decrypt = in.can_decrypt();
  if (in.has_ssh()) c.ssh = in.ssh();
  return c;
}

void ToWire(const AuthOptions& in, wire::AuthOptions* out) {
  out->set_operation_prompt(in.operation_prompt);
  if (in.context_id) out->set_context_id(*in.context_id);
  out->set_interaction_allowed(in.interaction_allowed);
  if (in.passcode) out->set_passcode(S(in.passcode->view()));
  if (in.application_password) out->set_application_password(S(in.application_password->view()));
}

AuthOptions FromWire(const wire::AuthOptions& in) {
  AuthOptions a;
  a.operation_prompt = in.operation_prompt();
  if (in.has_context_id()) a.context_id = in.context_id();
  a.interaction_allowed = in.interaction_allowed();
  if (in.has_passcode()) a.passcode = Secret(in.passcode());
  if (in.has_application_password()) a.application_password = Secret(in.application_password());
  return a;
}

void ToWire(const OperationResult& in, wire::OperationResult* out) {
  out->set_kid(in.kid);
  out->set_algorithm(in.algorithm);
  out->set_output(S(in.output));
  out->set_prompted(in.prompted);
}

OperationResult FromWire(const wire::OperationResult& in) {
  OperationResult r;
  r.kid = in.kid();
  r.algorithm = in.algorithm();
  r.output = B(in.output());
  r.prompted = in.prompted();
  return r;
}

void ToWire(const ReenrollResult& in, wire::ReenrollResult* out) {
  out->set_old_kid(in.old_kid);
  ToWire(in.key, out->mutable_key());
  if (in.rotation_statement) out->set_rotation_statement(S(*in.rotation_statement));
}

ReenrollResult FromWire(const wire::ReenrollResult& in) {
  ReenrollResult r;
  r.old_kid = in.old_kid();
  r.key = FromWire(in.key());
  if (in.has_rotation_statement()) r.rotation_statement = B(in.rotation_statement());
  return r;
}

void ToWire(const Error& in, wire::Error* out) {
  out->set_domain(in.domain);
  out->set_code(in.code);
  out->set_description(in.description);
  nlohmann::json info = in.user_info.is_object() ? in.user_info : nlohmann::json::object();
  info.erase("underlying");
  out->set_user_info_json(DumpJson(info));
  out->set_cause(in.cause);
  if (in.prompted) out->set_prompted(*in.prompted);
  if (in.underlying) ToWire(*in.underlying, out->mutable_underlying());
}

Error FromWire(const wire::Error& in) {
  Error e;
  e.domain = in.domain();
  e.code = in.code();
  e.description = in.description();
  if (!in.user_info_json().empty()) {
    auto info = ParseJsonBounded(in.user_info_json());
    if (info.ok() && info->is_object()) e.user_info = std::move(info).value();
  }
  e.cause = in.cause();
  if (in.has_prompted()) e.prompted = in.prompted();
  if (in.has_underlying()) e.underlying = std::make_shared<Error>(FromWire(in.underlying()));
  return e;
}

Result<nlohmann::json> ParseJsonBounded(std::string_view text) {
  if (text.empty()) return nlohmann::json::object();
  if (!JsonDepthWithin(text, kMaxJsonDepth)) {
    return ProtocolError("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  try {
    auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return ProtocolError("malformed JSON in a request");
    return j;
  } catch (const std::exception&) {
    return ProtocolError("malformed JSON in a request");
  }
}

std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Error ProtocolError(const std::string& detail) {
  return OSStatusError(errsec::kParam, "protocol error: " + detail).WithCause("protocol-error");
}

wire::Response ErrorResponse(uint64_t id, const Error& error) {
  wire::Response r;
  r.set_id(id);
  ToWire(error, r.mutable_error());
  return r;
}

namespace {

void Wipe(std::string* s) {
  if (!s->empty()) OPENSSL_cleanse(s->data(), s->size());
  s->clear();
}

void WipeAuth(wire::AuthOptions* auth) {
  if (auth->has_passcode()) Wipe(auth->mutable_passcode());
  if (auth->has_application_password()) Wipe(auth->mutable_application_password());
}

}  // namespace

void WipeSecrets(wire::Request* r) {
  switch (r->op_case()) {
    case wire::Request::kCreateKey:
      if (r->create_key().spec().has_application_password()) {
        Wipe(r->mutable_create_key()->mutable_spec()->mutable_application_password());
      }
      break;
    case wire::Request::kSign:
      WipeAuth(r->mutable_sign()->mutable_auth());
      break;
    case wire::Request::kDecrypt:
      WipeAuth(r->mutable_decrypt()->mutable_auth());
      break;
    case wire::Request::kKeyExchange:
      WipeAuth(r->mutable_key_exchange()->mutable_auth());
      break;
    case wire::Request::kReenroll:
      WipeAuth(r->mutable_reenroll()->mutable_auth());
      break;
    case wire::Request::kAdmin:
      for (auto& secret : *r->mutable_admin()->mutable_secrets()) Wipe(&secret);
      break;
    default:
      break;
  }
}

void WipeBuffer(Bytes* buffer) {
  if (!buffer->empty()) OPENSSL_cleanse(buffer->data(), buffer->size());
  buffer->clear();
}

std::string RequestKind(const wire::Request& request) {
  // The oneof field's name in enclave.proto (the lite runtime has no descriptors to ask).
  switch (request.op_case()) {
    case wire::Request::kCreateKey:
      return "create_key";
    case wire::Request::kFindKeys:
      return "find_keys";
    case wire::Request::kUpdateKeys:
      return "update_keys";
    case wire::Request::kDeleteKeys:
      return "delete_keys";
    case wire::Request::kSign:
      return "sign";
    case wire::Request::kDecrypt:
      return "decrypt";
    case wire::Request::kKeyExchange:
      return "key_exchange";
    case wire::Request::kExportPrivateKey:
      return "export_private_key";
    case wire::Request::kCreateAuthContext:
      return "create_auth_context";
    case wire::Request::kInvalidateAuthContext:
      return "invalidate_auth_context";
    case wire::Request::kAdmin:
      return "admin";
    case wire::Request::kReenroll:
      return "reenroll";
    case wire::Request::kWatch:
      return "watch";
    case wire::Request::kShutdown:
      return "shutdown";
    case wire::Request::kPing:
      return "ping";
    default:
      return "unknown";
  }
}

namespace internal {
namespace {

// Decodes a request the way the daemon's dispatcher does, touching every field.
void ConvertRequest(const wire::Request& r) {
  switch (r.op_case()) {
    case wire::Request::kCreateKey:
      (void)FromWire(r.create_key().spec());
      break;
    case wire::Request::kFindKeys:
      (void)FromWire(r.find_keys().query());
      break;
    case wire::Request::kUpdateKeys:
      (void)FromWire(r.update_keys().query());
      (void)FromWire(r.update_keys().changes());
      break;
    case wire::Request::kDeleteKeys:
      (void)FromWire(r.delete_keys().query());
      break;
    case wire::Request::kSign:
      (void)FromWire(r.sign().key());
      (void)FromWire(r.sign().auth());
      break;
    case wire::Request::kDecrypt:
      (void)FromWire(r.decrypt().key());
      (void)FromWire(r.decrypt().auth());
      break;
    case wire::Request::kKeyExchange:
      (void)FromWire(r.key_exchange().key());
      (void)FromWire(r.key_exchange().auth());
      break;
    case wire::Request::kReenroll:
      (void)FromWire(r.reenroll().key());
      (void)FromWire(r.reenroll().auth());
      break;
    case wire::Request::kAdmin: {
      auto args = ParseJsonBounded(r.admin().args_json());
      if (args.ok()) (void)DumpJson(*args);
      break;
    }
    default:
      break;
  }
}

void ConvertResponse(const wire::Response& r) {
  switch (r.result_case()) {
    case wire::Response::kKey:
      (void)FromWire(r.key());
      break;
    case wire::Response::kKeys:
      for (const auto& k : r.keys().keys()) (void)FromWire(k);
      break;
    case wire::Response::kOperation:
      (void)FromWire(r.operation());
      break;
    case wire::Response::kReenroll:
      (void)FromWire(r.reenroll());
      break;
    case wire::Response::kError: {
      const Error e = FromWire(r.error());
      (void)e.ToJson();
      break;
    }
    case wire::Response::kAdmin:
      (void)ParseJsonBounded(r.admin().result_json());
      break;
    case wire::Response::kEvent:
      (void)ParseJsonBounded(r.event().event_json());
      break;
    default:
      break;
  }
}

}  // namespace

int FuzzConnectionBytes(ByteView data) {
  size_t offset = 0;
  FrameReader reader([&](uint8_t* buf, size_t len, bool) -> long {
    const size_t n = std::min(len, data.size() - offset);
    if (n > 0) std::memcpy(buf, data.data() + offset, n);
    offset += n;
    return static_cast<long>(n);
  });
  for (;;) {
    FrameReadResult frame = reader.Next();
    if (!frame.payload) {
      if (frame.error != FrameError::kClosed) {
        (void)EncodeFrame(ErrorResponse(0, ProtocolError(frame.detail)));
      }
      return 0;
    }
    wire::Request request;
    if (ParsePayload(*frame.payload, &request)) {
      ConvertRequest(request);
      (void)RequestKind(request);
    } else {
      (void)EncodeFrame(ErrorResponse(0, ProtocolError("unparseable request")));
    }
    wire::Response response;
    if (ParsePayload(*frame.payload, &response)) ConvertResponse(response);
  }
}

}  // namespace internal
}  // namespace enclave::daemon
