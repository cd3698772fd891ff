// Small text helpers shared by the front ends that read user-written lists.
#pragma once

#include <string>
#include <vector>

namespace enclave {

// "a, b,,c " -> {"a", "b", "c"}: the items of a comma-separated list, each trimmed of blanks
// and tabs, empty items dropped (how access-control flags are written on the command line).
inline std::vector<std::string> SplitCommaList(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    const std::string item = s.substr(start, end - start);
    const auto b = item.find_first_not_of(" \t");
    const auto e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
    start = end + 1;
  }
  return out;
}

}  // namespace enclave
