// enclave's ssh agent: answers one client connection's agent requests with the enclave's keys
// marked for ssh, through the same service session as the CLI (access control, prompts, journal,
// errors). Keys that are not enclave's go to an optional upstream agent
// (`enclave config set ssh-agent-upstream SOCKET`), so one socket serves both.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "service/enclave.h"
#include "sshagent/io.h"
#include "sshagent/wire.h"

namespace enclave::sshagent {

struct AgentOptions {
  std::filesystem::path own_socket;  // never used as an upstream
  std::chrono::milliseconds upstream_timeout{30000};
};

// Who is on the other end: the peer's pid and its process chain ("ssh (1234) ← git ← bash").
struct Caller {
  uint32_t pid = 0;
  std::string chain;
};

// What one request did, for the daemon's log: never data, signatures or comments.
struct Outcome {
  std::string request;  // "sign", "request-identities", ...
  std::vector<std::string> kids;
  std::optional<Error> error;  // why the answer was FAILURE (or what an upstream refused)
};

// A verified session-bind: where the connection's ssh session goes.
struct Binding {
  std::string host_fingerprint;
  bool forwarding = false;
};

class Agent {
 public:
  Agent(service::Session& session, Caller caller, AgentOptions options);

  // Answers one message (a frame's content: type || payload) with the reply's content.
  Bytes Handle(ByteView message, Outcome* outcome);
  const std::vector<Binding>& bindings() const { return bindings_; }

 private:
  Bytes Identities(Outcome* outcome);
  Bytes Sign(const SignRequest& req, ByteView message, Outcome* outcome);
  Bytes Remove(const RemoveIdentity& req, ByteView message, Outcome* outcome);
  Bytes RemoveAll(ByteView message, Outcome* outcome);
  Bytes Bind(const Extension& ext, ByteView message, Outcome* outcome);
  Bytes Forward(ByteView message, const std::string& why_local_refused, Outcome* outcome);
  // Stops offering `key` for ssh (Remove and RemoveAll answer the same way) and journals it.
  Status Unlist(const KeyInfo& key);

  // The enclave keys marked for ssh (empty when there are none).
  std::vector<KeyInfo> SshKeys(Outcome* outcome);
  // The ssh-enabled enclave key whose public point (X9.63) is `point`, if any.
  std::optional<KeyInfo> SshKeyWithPoint(ByteView point, Outcome* outcome);
  // The upstream agent configured now, or null.
  Upstream* UpstreamAgent();
  std::string Requester() const;
  void Journal(const std::string& kind, const KeyInfo& key, const std::optional<Error>& error);

  service::Session& session_;
  Caller caller_;
  AgentOptions options_;
  std::vector<Binding> bindings_;
  std::map<std::string, KeyInfo> known_;  // kid -> the key, for keys this connection signed with
  std::unique_ptr<Upstream> upstream_;
};

// The comment ssh shows for an enclave key: its label, else its application label.
std::string KeyComment(const KeyInfo& key);

}  // namespace enclave::sshagent
