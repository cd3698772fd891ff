#include "sshagent/caller.h"

#include <fstream>
#include <sstream>

namespace enclave::sshagent {
namespace {

struct ProcInfo {
  std::string name;
  uint32_t ppid = 0;
};

// /proc/PID/stat is "pid (comm) state ppid ..."; comm may itself hold spaces and parentheses, so
// it ends at the last ')'.
bool ReadProc(const std::string& root, uint32_t pid, ProcInfo* info) {
  std::ifstream in(root + "/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!in || !std::getline(in, line)) return false;
  const auto open = line.find('(');
  const auto close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return false;
  std::string name = line.substr(open + 1, close - open - 1);
  for (char& c : name) {
    if (c < 0x20 || c == 0x7f) c = '?';
  }
  std::istringstream rest(line.substr(close + 1));
  std::string state;
  long long ppid = 0;
  if (!(rest >> state >> ppid) || ppid < 0) return false;
  info->name = name;
  info->ppid = static_cast<uint32_t>(ppid);
  return true;
}

}  // namespace

std::string ProcessChainIn(const std::string& proc_root, uint32_t pid, int depth) {
  ProcInfo info;
  if (pid == 0 || !ReadProc(proc_root, pid, &info)) return "unknown process (" + std::to_string(pid) + ")";
  std::string chain = info.name + " (" + std::to_string(pid) + ")";
  for (int i = 1; i < depth && info.ppid > 1; ++i) {
    if (!ReadProc(proc_root, info.ppid, &info)) break;
    chain += " \u2190 " + info.name;
  }
  return chain;
}

std::string ProcessChain(uint32_t pid, int depth) { return ProcessChainIn("/proc", pid, depth); }

}  // namespace enclave::sshagent
