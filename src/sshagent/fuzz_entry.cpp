#include "sshagent/fuzz_entry.h"

#include "sshagent/host_key.h"
#include "sshagent/wire.h"

namespace enclave::sshagent::internal {

int FuzzAgentBytes(ByteView stream) {
  while (!stream.empty()) {
    const FrameSplit split = SplitFrame(stream);
    if (split.status != FrameSplit::Status::kFrame) break;
    const ByteView message = split.message;
    stream = stream.subspan(split.consumed);
    (void)ParseIdentitiesAnswer(message);
    auto request = ParseRequest(message);
    if (!request.ok()) continue;
    if (auto* sign = std::get_if<SignRequest>(&*request)) {
      (void)EcdsaP256Point(sign->key_blob);
      (void)HostKeyFingerprint(sign->key_blob);
    } else if (auto* ext = std::get_if<Extension>(&*request)) {
      auto bind = ParseSessionBind(ext->contents);
      if (bind.ok()) (void)VerifySessionBind(*bind);
    } else if (auto* remove = std::get_if<RemoveIdentity>(&*request)) {
      (void)EcdsaP256Point(remove->key_blob);
    }
  }
  return 0;
}

}  // namespace enclave::sshagent::internal
