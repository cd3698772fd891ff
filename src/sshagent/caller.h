// Who is asking the agent: the requesting process and its ancestors, from /proc, as people
// recognise them in a prompt: "ssh (1234) ← git ← bash".
#pragma once

#include <cstdint>
#include <string>

namespace enclave::sshagent {

// The chain from `pid` up to (not including) init, at most `depth` processes. Unknown processes
// (gone, or another user's /proc hidden) end the chain; an empty pid gives "unknown process".
std::string ProcessChain(uint32_t pid, int depth = 4);

// The chain from a /proc-like root (tests point it at a fake tree).
std::string ProcessChainIn(const std::string& proc_root, uint32_t pid, int depth);

}  // namespace enclave::sshagent
