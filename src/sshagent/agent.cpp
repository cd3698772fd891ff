#include "sshagent/agent.h"

#include <algorithm>

#include "crypto/ec.h"
#include "sshagent/host_key.h"
#include "token/token.h"

namespace enclave::sshagent {
namespace {

// OpenSSH's own agent keeps at most this many session-binds per connection.
constexpr size_t kMaxBindings = 16;
constexpr char kSignAlgorithm[] = "ecdsa-signature-message-x962-sha256";
constexpr char kNotOffered[] = "the key is not an enclave key offered for ssh";

Bytes Failure() { return {kFailure}; }
Bytes Success() { return {kSuccess}; }

bool IsPrintable(const Bytes& b) {
  return !b.empty() && std::all_of(b.begin(), b.end(), [](uint8_t c) { return c >= 0x20 && c < 0x7f; });
}

KeyQuery ByKid(const std::string& kid) {
  KeyQuery q;
  q.kid = kid;
  return q;
}

}  // namespace

std::string KeyComment(const KeyInfo& key) {
  if (!key.label.empty()) return key.label;
  if (IsPrintable(key.application_label)) return ToString(key.application_label);
  return HexEncode(key.application_label);
}

Agent::Agent(service::Session& session, Caller caller, AgentOptions options)
    : session_(session), caller_(std::move(caller)), options_(std::move(options)) {}

Bytes Agent::Handle(ByteView message, Outcome* outcome) {
  auto request = ParseRequest(message);
  if (!request.ok()) {
    outcome->request = "malformed";
    outcome->error = request.error();
    return Failure();
  }
  outcome->request = RequestName(message[0]);
  if (std::holds_alternative<RequestIdentities>(*request)) return Identities(outcome);
  if (auto* sign = std::get_if<SignRequest>(&*request)) return Sign(*sign, message, outcome);
  if (auto* remove = std::get_if<RemoveIdentity>(&*request)) return Remove(*remove, message, outcome);
  if (std::holds_alternative<RemoveAllIdentities>(*request)) return RemoveAll(message, outcome);
  if (auto* ext = std::get_if<Extension>(&*request)) {
    outcome->request = "extension " + ext->name;
    if (ext->name == "session-bind@openssh.com") return Bind(*ext, message, outcome);
    return Forward(message, "the extension " + ext->name + " is not supported", outcome);
  }
  return Forward(
      message,
      "enclave's ssh agent offers only enclave keys (create them with `enclave key create --ssh`); "
      "to keep file keys in the same agent, set `enclave config set ssh-agent-upstream` to an "
      "ssh-agent's socket",
      outcome);
}

std::vector<KeyInfo> Agent::SshKeys(Outcome* outcome) {
  KeyQuery q;
  q.ssh = true;
  q.match_all = true;
  auto keys = session_.FindKeys(q);
  if (!keys.ok()) {
    if (keys.error().code != errsec::kItemNotFound) outcome->error = keys.error();
    return {};
  }
  return std::move(keys).value();
}

std::optional<KeyInfo> Agent::SshKeyWithPoint(ByteView point, Outcome* outcome) {
  // A key's id is derived from its public key: one indexed lookup, not a scan of every ssh key.
  // A key this connection has signed with before is taken from `known_` without a lookup: it
  // only names the key in prompts and the journal, and the signature itself asks the enclave for
  // that id among the keys offered for ssh, so a key deleted or turned off since is refused there.
  const std::string kid = token::KeyId(point);
  if (auto it = known_.find(kid); it != known_.end()) return it->second;
  KeyQuery q;
  q.ssh = true;
  q.kid = kid;
  auto keys = session_.FindKeys(q);
  if (!keys.ok()) {
    if (keys.error().code != errsec::kItemNotFound) outcome->error = keys.error();
    return std::nullopt;
  }
  for (auto& k : *keys) {
    if (std::equal(k.public_key_x963.begin(), k.public_key_x963.end(), point.begin(), point.end())) {
      if (known_.size() >= 64) known_.clear();
      known_[kid] = k;
      return std::move(k);
    }
  }
  return std::nullopt;
}

Upstream* Agent::UpstreamAgent() {
  auto value = session_.Admin("config.get", {{"key", "ssh-agent-upstream"}}, {});
  std::string path = value.ok() ? value->value("value", "") : "";
  if (!path.empty() &&
      std::filesystem::path(path).lexically_normal() == options_.own_socket.lexically_normal()) {
    path.clear();
  }
  if (path.empty()) {
    upstream_.reset();
    return nullptr;
  }
  if (!upstream_ || upstream_->socket() != path)
    upstream_ = std::make_unique<Upstream>(path, options_.upstream_timeout);
  return upstream_.get();
}

Bytes Agent::Forward(ByteView message, const std::string& why_local_refused, Outcome* outcome) {
  Upstream* upstream = UpstreamAgent();
  if (upstream == nullptr) {
    outcome->error =
        OSStatusError(errsec::kUnimplemented, outcome->request + " refused: " + why_local_refused)
            .WithCause("unimplemented");
    return Failure();
  }
  auto reply = upstream->RoundTrip(message);
  if (!reply.ok()) {
    outcome->error = reply.error();
    return Failure();
  }
  return std::move(reply).value();
}

Bytes Agent::Identities(Outcome* outcome) {
  std::vector<Identity> identities;
  for (const auto& key : SshKeys(outcome)) {
    Status usable = session_.CheckKeyUsable(ByKid(key.kid));
    if (!usable.ok() && usable.error().permanently_invalid()) {
      // Offering a key that can never sign makes ssh try it on every login; say once why not.
      session_.RecordEventOnce(
          "ssh-key-withheld", usable.error().effective_cause(), key.kid,
          {{"label", KeyComment(key)},
           {"reason", "the key can never be used again, so the ssh agent no longer offers it"},
           {"error", usable.error().ToJson()}});
      continue;
    }
    if (outcome->kids.size() < 16) outcome->kids.push_back(key.kid);
    identities.push_back({EcdsaP256KeyBlob(key.public_key_x963), KeyComment(key)});
  }
  if (Upstream* upstream = UpstreamAgent()) {
    // The enclave's keys are answered even when the upstream agent is gone.
    auto reply = upstream->RoundTrip(Bytes{kRequestIdentities});
    auto theirs = reply.ok() ? ParseIdentitiesAnswer(*reply) : Result<std::vector<Identity>>(reply.error());
    if (!theirs.ok()) {
      outcome->error = theirs.error();
    } else {
      for (auto& id : *theirs) {
        const bool duplicate = std::any_of(identities.begin(), identities.end(), [&](const Identity& ours) {
          return ours.key_blob == id.key_blob;
        });
        if (!duplicate) identities.push_back(std::move(id));
      }
    }
  }
  return IdentitiesAnswer(identities);
}

std::string Agent::Requester() const {
  std::string who = caller_.chain;
  const Binding* destination = nullptr;
  const Binding* forwarded_by = nullptr;
  for (const auto& b : bindings_) {
    if (b.forwarding && forwarded_by == nullptr) forwarded_by = &b;
    if (!b.forwarding) destination = &b;
  }
  if (destination != nullptr) who += ", logging in to host " + destination->host_fingerprint;
  if (forwarded_by != nullptr)
    who += ", through the agent forwarded to host " + forwarded_by->host_fingerprint;
  return who;
}

void Agent::Journal(const std::string& kind, const KeyInfo& key, const std::optional<Error>& error) {
  nlohmann::json details = {{"requester", Requester()},
                            {"pid", caller_.pid},
                            {"label", KeyComment(key)},
                            {"outcome", error ? "refused" : "done"}};
  const Binding* destination = nullptr;
  for (const auto& b : bindings_) {
    if (b.forwarding) details["forwarded"] = true;
    if (!b.forwarding) destination = &b;
  }
  if (destination != nullptr) details["host"] = destination->host_fingerprint;
  if (error) details["error"] = error->ToJson();
  session_.RecordEvent(kind, error ? error->effective_cause() : "none", {key.kid}, std::move(details));
}

Bytes Agent::Sign(const SignRequest& req, ByteView message, Outcome* outcome) {
  const auto point = EcdsaP256Point(req.key_blob);
  std::optional<KeyInfo> key = point ? SshKeyWithPoint(*point, outcome) : std::nullopt;
  if (!key) return Forward(message, kNotOffered, outcome);
  outcome->kids.push_back(key->kid);
  AuthOptions auth;
  auth.operation_prompt = Requester() + " wants to sign with the ssh key \"" + KeyComment(*key) + "\"";
  KeyQuery offered = ByKid(key->kid);
  offered.ssh = true;
  auto signature = session_.Sign(offered, kSignAlgorithm, Bytes(req.data.begin(), req.data.end()), auth);
  if (!signature.ok() && signature.error().code == errsec::kItemNotFound) {
    // Deleted, or no longer offered for ssh, since this connection last used it.
    known_.erase(key->kid);
    outcome->kids.pop_back();
    return Forward(message, kNotOffered, outcome);
  }
  Result<Bytes> raw =
      signature.ok() ? crypto::DerSignatureToRaw(signature->output) : Result<Bytes>(signature.error());
  if (!raw.ok()) {
    outcome->error = raw.error();
    Journal("ssh-sign", *key, raw.error());
    return Failure();
  }
  Journal("ssh-sign", *key, std::nullopt);
  Writer w;
  w.Byte(kSignResponse).String(ByteView(EcdsaP256SignatureBlob(*raw)));
  return w.Take();
}

Bytes Agent::Remove(const RemoveIdentity& req, ByteView message, Outcome* outcome) {
  const auto point = EcdsaP256Point(req.key_blob);
  if (point) known_.erase(token::KeyId(*point));  // asked afresh: it may be off already
  std::optional<KeyInfo> key = point ? SshKeyWithPoint(*point, outcome) : std::nullopt;
  if (!key) return Forward(message, kNotOffered, outcome);
  outcome->kids.push_back(key->kid);
  if (Status unlisted = Unlist(*key); !unlisted.ok()) {
    outcome->error = unlisted.error();
    return Failure();
  }
  return Success();
}

Status Agent::Unlist(const KeyInfo& key) {
  // The key stays in the enclave: it is only no longer offered (`key update --ssh on` brings it back).
  KeyChanges off;
  off.ssh = false;
  auto n = session_.UpdateKeys(ByKid(key.kid), off);
  if (!n.ok()) return n.error();
  Journal("ssh-key-unlisted", key, std::nullopt);
  return Ok();
}

Bytes Agent::RemoveAll(ByteView message, Outcome* outcome) {
  for (const auto& key : SshKeys(outcome)) {
    if (Status unlisted = Unlist(key); !unlisted.ok()) {
      outcome->error = unlisted.error();
      return Failure();
    }
    if (outcome->kids.size() < 16) outcome->kids.push_back(key.kid);
  }
  if (Upstream* upstream = UpstreamAgent()) {
    auto reply = upstream->RoundTrip(message);
    if (!reply.ok()) outcome->error = reply.error();
  }
  return Success();
}

Bytes Agent::Bind(const Extension& ext, ByteView message, Outcome* outcome) {
  auto bind = ParseSessionBind(ext.contents);
  if (!bind.ok()) {
    outcome->error = bind.error();
    return Failure();
  }
  if (Status verified = VerifySessionBind(*bind); !verified.ok()) {
    outcome->error = verified.error();
    return Failure();
  }
  if (bindings_.size() >= kMaxBindings) {
    outcome->error = OSStatusError(errsec::kParam, "more than 16 session-binds on one agent connection")
                         .WithCause("protocol-error");
    return Failure();
  }
  bindings_.push_back({HostKeyFingerprint(bind->host_key), bind->forwarding});
  // An upstream agent keeps its own per-connection binding state (destination constraints).
  if (Upstream* upstream = UpstreamAgent()) (void)upstream->RoundTrip(message);
  return Success();
}

}  // namespace enclave::sshagent
