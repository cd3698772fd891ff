#include "client/client.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>

#include "client/connection.h"
#include "common/home.h"
#include "crypto/message_digest.h"
#include "daemon/codec.h"
#include "daemon/frame.h"
#include "daemon/frame_buffer.h"

namespace enclave::client {

Result<std::unique_ptr<Client>> Client::Connect(const ConnectOptions& options) {
  std::filesystem::path socket = options.socket;
  if (socket.empty() && options.allow_system_mode) {
    if (auto system = SystemSocket()) socket = *system;
  }
  if (!socket.empty()) {
    // The system daemon is started by its supervisor, never by a client.
    int err = 0;
    auto fd = internal::ConnectSocketPath(socket, &err);
    if (!fd.ok()) {
      Error e = std::move(fd).error();
      e.description = "the system enclave daemon is not reachable (" + e.description +
                      "); is enclaved-system.socket enabled?";
      return e;
    }
    auto client = std::unique_ptr<Client>(new Client(socket.parent_path(), std::move(fd).value()));
    client->socket_ = socket;
    return client;
  }
  const std::filesystem::path home = options.home.empty() ? ResolveHome() : options.home;
  ASSIGN_OR_RETURN(auto fd, internal::ConnectOrStart(home, options));
  auto client = std::unique_ptr<Client>(new Client(home, std::move(fd)));
  client->options_ = options;
  client->options_.home = home;
  return client;
}

// A reply may take as long as the user takes to answer a prompt; once begun it must be whole
// within 30 s.
constexpr auto kReplyTimeout = std::chrono::seconds(30);

void Client::ReconnectIfClosedWhileIdle() {
  if (!fd_.valid() || stateful_) return;
  pollfd p{fd_.get(), POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return;
  char byte;
  if (::recv(fd_.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0) return;  // not a close
  (void)ReconnectLocked();
}

bool Client::ReconnectLocked() {
  int err = 0;
  auto fd = socket_.empty() ? internal::ConnectOrStart(home_, options_)
                            : internal::ConnectSocketPath(socket_, &err);
  if (!fd.ok()) return false;
  fd_ = std::move(fd).value();
  reader_ = daemon::SocketFrameReader::ForReplies(fd_.get(), kReplyTimeout);
  return true;
}

Client::Client(std::filesystem::path home, daemon::UniqueFd fd)
    : home_(std::move(home)),
      fd_(std::move(fd)),
      reader_(daemon::SocketFrameReader::ForReplies(fd_.get(), kReplyTimeout)) {}

void Client::CloseLocked() {
  fd_.reset();  // the session is gone with the connection; do not pretend otherwise
  reader_.reset();
}

Result<wire::Response> Client::ReadReplyLocked(bool alone) {
  daemon::SocketFrameReader::Frame frame = reader_->Next(/*may_poll=*/alone);
  if (!frame.payload) {
    if (frame.error == daemon::FrameError::kClosed) {
      return internal::DaemonUnavailable("the daemon closed the connection" +
                                         (frame.detail.empty() ? "" : " (" + frame.detail + ")"));
    }
    return internal::DaemonUnavailable("no reply from the daemon (" + daemon::FrameErrorName(frame.error) +
                                       "): " + frame.detail);
  }
  wire::Response response;
  if (!daemon::ParsePayload(*frame.payload, &response)) {
    return daemon::ProtocolError("the daemon's reply is not a well-formed message");
  }
  return response;
}

Result<wire::Response> Client::Call(wire::Request& request) {
  std::lock_guard lock(mu_);
  ReconnectIfClosedWhileIdle();
  if (!fd_.valid()) return internal::DaemonUnavailable("the connection to the daemon is closed");
  // A request whose connection ends before any byte of its reply (the daemon was killed, or
  // stopped with the request queued) is sent again on a fresh connection, starting a daemon if
  // none serves, when sending it twice cannot do anything twice; the secrets in it are wiped
  // only after the last send.
  const bool may_resend = !stateful_ && internal::RetriableAfterLostReply(request);
  for (int attempt = 0;; ++attempt) {
    request.set_id(next_id_++);
    out_.clear();
    Status encoded = daemon::AppendFrame(request, &out_);
    if (!encoded.ok()) {
      daemon::WipeSecrets(&request);
      return encoded.error();
    }
    const Status sent = daemon::WriteAll(fd_.get(), out_);
    daemon::WipeBuffer(&out_);
    // Even when the write failed, the daemon may have said why before closing (a refused peer).
    auto response = ReadReplyLocked();
    if (response.ok()) {
      daemon::WipeSecrets(&request);
      return internal::AnswerTo(request.id(), std::move(response).value());
    }
    if (!sent.ok()) {
      response = internal::DaemonUnavailable("the connection to the daemon is lost (" +
                                             sent.error().description + ")");
    }
    const bool lost = response.error().effective_cause() == "daemon-unavailable";
    if (lost) CloseLocked();
    // One resend, on a fresh connection. It reaches a live daemon or none (then autostart): the
    // daemon publishes its sockets only once it serves, and keeps its listeners numbered above
    // its connections, so a killed daemon stops taking clients before any connection ends.
    constexpr int kMaxSends = 2;
    if (!lost || !may_resend || attempt + 1 >= kMaxSends || !ReconnectLocked()) {
      daemon::WipeSecrets(&request);
      if (attempt == 0) return response;
      Error e = std::move(response).error();
      e.description += " (sent twice: both connections ended before a reply)";
      return e;
    }
  }
}

namespace {

Error Unexpected(const wire::Response& r) {
  return daemon::ProtocolError("unexpected reply kind " + std::to_string(static_cast<int>(r.result_case())));
}

}  // namespace

Result<KeyInfo> Client::CreateKey(const KeySpec& spec) {
  wire::Request r;
  daemon::ToWire(spec, r.mutable_create_key()->mutable_spec());
  ASSIGN_OR_RETURN(auto resp, Call(r));
  if (!resp.has_key()) return Unexpected(resp);
  if (!spec.permanent) stateful_ = true;
  return daemon::FromWire(resp.key());
}

Result<std::vector<KeyInfo>> Client::FindKeys(const KeyQuery& query) {
  wire::Request r;
  daemon::ToWire(query, r.mutable_find_keys()->mutable_query());
  ASSIGN_OR_RETURN(auto resp, Call(r));
  if (!resp.has_keys()) return Unexpected(resp);
  std::vector<KeyInfo> keys;
  keys.reserve(static_cast<size_t>(resp.keys().keys_size()));
  for (const auto& k : resp.keys().keys()) keys.push_back(daemon::FromWire(k));
  return keys;
}

Result<int> Client::UpdateKeys(const KeyQuery& query, const KeyChanges& changes) {
  wire::Request r;
  daemon::ToWire(query, r.mutable_update_keys()->mutable_query());
  daemon::ToWire(changes, r.mutable_update_keys()->mutable_changes());
  ASSIGN_OR_RETURN(auto resp, Call(r));
  if (!resp.has_count()) return Unexpected(resp);
  return resp.count().count();
}

Result<int> Client::DeleteKeys(const KeyQuery& query) {
  wire::Request r;
  daemon::ToWire(query, r.mutable_delete_keys()->mutable_query());
  ASSIGN_OR_RETURN(auto resp, Call(r));
  if (!resp.has_count()) return Unexpected(resp);
  return resp.count().count();
}

namespace {

void FillSign(const KeyQuery& key, const std::string& algorithm, ByteView input, const AuthOptions& auth,
              wire::Request* r) {
  auto* s = r->mutable_sign();
  daemon::ToWire(key, s->mutable_key());
  s->set_algorithm(algorithm);
  s->set_input(reinterpret_cast<const char*>(input.data()), input.size());
  daemon::ToWire(auth, s->mutable_auth());
}

// The reply to a sign request as the caller sees it: the algorithm it asked for, even when the
// daemon signed the message's digest with the digest counterpart.
Result<OperationResult> SignResult(Result<wire::Response> resp, const std::string& algorithm) {
  if (!resp.ok()) return std::move(resp).error();
  if (!resp->has_operation()) return Unexpected(*resp);
  OperationResult r = daemon::FromWire(resp->operation());
  r.algorithm = algorithm;
  return r;
}

}  // namespace

Result<OperationResult> Client::Sign(const KeyQuery& key, const std::string& algorithm, const Bytes& input,
                                     const AuthOptions& auth) {
  ASSIGN_OR_RETURN(auto prehashed, crypto::PrehashForSigning(algorithm, input));
  wire::Request r;
  if (prehashed) {
    FillSign(key, prehashed->algorithm, prehashed->input, auth, &r);
    return SignResult(Call(r), algorithm);
  }
  FillSign(key, algorithm, input, auth, &r);
  auto resp = Call(r);
  if (!resp.ok()) return std::move(resp).error();
  if (!resp->has_operation()) return Unexpected(*resp);
  return daemon::FromWire(resp->operation());
}

Result<std::vector<Result<OperationResult>>> Client::SignBatch(const KeyQuery& key,
                                                               const std::string& algorithm,
                                                               const std::vector<Bytes>& inputs,
                                                               const AuthOptions& auth, size_t window) {
  std::lock_guard lock(mu_);
  if (!fd_.valid()) return internal::DaemonUnavailable("the connection to the daemon is closed");
  if (window == 0) window = 1;
  std::vector<Result<OperationResult>> results;
  results.reserve(inputs.size());
  const uint64_t first_id = next_id_;
  next_id_ += inputs.size();
  wire::Request r;
  size_t sent = 0;
  // Queues requests until `window` are in flight, then writes them with one send.
  auto send_more = [&]() -> Status {
    out_.clear();
    while (sent < inputs.size() && sent - results.size() < window) {
      ASSIGN_OR_RETURN(auto prehashed, crypto::PrehashForSigning(algorithm, inputs[sent]));
      r.Clear();
      if (prehashed) {
        FillSign(key, prehashed->algorithm, prehashed->input, auth, &r);
      } else {
        FillSign(key, algorithm, inputs[sent], auth, &r);
      }
      r.set_id(first_id + sent);
      RETURN_IF_ERROR(daemon::AppendFrame(r, &out_));
      ++sent;
    }
    daemon::WipeSecrets(&r);
    const Status written = out_.empty() ? Ok() : daemon::WriteAll(fd_.get(), out_);
    daemon::WipeBuffer(&out_);
    return written;
  };
  Status status = send_more();
  while (status.ok() && results.size() < sent) {
    auto resp = ReadReplyLocked(/*alone=*/sent - results.size() == 1);
    if (!resp.ok()) {
      status = resp.error();
      break;
    }
    const uint64_t expected = first_id + results.size();
    if (resp->result_case() == wire::Response::kError && resp->id() == 0) {
      status = daemon::FromWire(resp->error());
      break;
    }
    if (resp->id() != expected) {
      status = daemon::ProtocolError("reply " + std::to_string(resp->id()) + " does not answer request " +
                                     std::to_string(expected));
      break;
    }
    if (resp->result_case() == wire::Response::kError) {
      results.push_back(daemon::FromWire(resp->error()));
    } else {
      results.push_back(SignResult(std::move(resp), algorithm));
    }
    // Refill once the replies already received are used up, so sends stay batched.
    if (!reader_->HasWholeFrame()) status = send_more();
  }
  if (!status.ok()) {
    // Replies still owed cannot be matched any more: this connection is done.
    CloseLocked();
    return status.error();
  }
  return results;
}

Result<OperationResult> Client::Decrypt(const KeyQuery& key, const std::string& algorithm,
                                        const Bytes& ciphertext, const AuthOptions& auth) {
  wire::Request r;
  auto* d = r.mutable_decrypt();
  daemon::ToWire(key, d->mutable_key());
  d->set_algorithm(algorithm);
  d->set_ciphertext(std::string(ciphertext.begin(), ciphertext.end()));
  daemon::ToWire(auth, d->mutable_auth());
  ASSIGN_OR_RETURN(auto resp, Call(r));
  if (!resp.has_operation()) return Unexpected(resp);
  return daemon::FromWire(resp.operation());
}

Result<OperationResult> Client::KeyExchange(const KeyQuery& key, const std::string& algorithm,
                                            const Bytes& peer_public_key,
                                            std::optional<size_t> requested_size, const Bytes& shared_info,
                                            const AuthOptions& auth) {
  wire::Request r;
  auto* x = r.mutable_key_exchange();
  daemon::ToWire(key, x->mutable_key());
  x->set_algorithm(algorithm);
  x->set_peer_public_key(std::string(peer_public_key.begin(), peer_public_key.end()));
  if (requested_size) x->set_requested_size(*requested_size);
  x->set_shared_info(std::string(shared_info.begin(), shared_info.end()));
  daemon::ToWire(auth, x->mutable_auth());
  ASSIGN_OR_RETURN(auto resp, Call(r));
  if (!resp.has_operation()) return Unexpected(resp);
  return daemon::FromWire(resp.operation());
}

Result<Bytes> Client::ExportPrivateKey(const KeyQuery& key) {
  wire::Request r;
  daemon::ToWire(key, r.mutable_export_private_key()->mutable_key());
  ASSIGN_OR_RETURN(auto resp, Call(r));
  if (!resp.has_private_key()) return Unexpected(resp);
  const std::string& d = resp.private_key().data();
  return Bytes(d.begin(), d.end());
}

Result<std::string> Client::CreateAuthContext(int reuse_seconds) {
  wire::Request r;
  r.mutable_create_auth_context()->set_reuse_seconds(reuse_seconds);
  ASSIGN_OR_RETURN(auto resp, Call(r));
  if (!resp.has_auth_context()) return Unexpected(resp);
  stateful_ = true;
  return resp.auth_context().context_id();
}

Status Client::InvalidateAuthContext(const std::string& context_id) {
  wire::Request r;
  r.mutable_invalidate_auth_context()->set_context_id(context_id);
  ASSIGN_OR_RETURN(auto resp, Call(r));
  if (!resp.has_done()) return Unexpected(resp);
  return Ok();
}

Result<nlohmann::json> Client::Admin(const std::string& command, const nlohmann::json& args,
                                     const std::vector<SecureBytes>& secrets) {
  wire::Request r;
  auto* a = r.mutable_admin();
  a->set_command(command);
  a->set_args_json(daemon::DumpJson(args.is_null() ? nlohmann::json::object() : args));
  for (const auto& s : secrets) a->add_secrets(std::string(s.view().begin(), s.view().end()));
  ASSIGN_OR_RETURN(auto resp, Call(r));
  if (!resp.has_admin()) return Unexpected(resp);
  return daemon::ParseJsonBounded(resp.admin().result_json());
}

Result<ReenrollResult> Client::Reenroll(const KeyQuery& key, const AuthOptions& auth) {
  wire::Request r;
  daemon::ToWire(key, r.mutable_reenroll()->mutable_key());
  daemon::ToWire(auth, r.mutable_reenroll()->mutable_auth());
  ASSIGN_OR_RETURN(auto resp, Call(r));
  if (!resp.has_reenroll()) return Unexpected(resp);
  return daemon::FromWire(resp.reenroll());
}

Result<nlohmann::json> Client::Ping() {
  wire::Request r;
  r.mutable_ping();
  ASSIGN_OR_RETURN(auto resp, Call(r));
  if (!resp.has_pong()) return Unexpected(resp);
  return nlohmann::json{
      {"pid", resp.pong().pid()}, {"version", resp.pong().version()}, {"home", resp.pong().home()}};
}

Status Client::Shutdown() {
  wire::Request r;
  r.mutable_shutdown();
  ASSIGN_OR_RETURN(auto resp, Call(r));
  std::lock_guard lock(mu_);
  fd_.reset();
  if (!resp.has_done()) return Unexpected(resp);
  return Ok();
}

}  // namespace enclave::client
