#include "common/error_catalog.h"

#include <nlohmann/json.hpp>

#include "common/error_catalog_data.h"  // generated: kCatalogJson

namespace enclave::catalog {
namespace {

struct Catalog {
  int version = 0;
  std::vector<CauseEntry> causes;
  std::vector<CodeEntry> codes;
};

const Catalog& Get() {
  static const Catalog catalog = [] {
    Catalog c;
    const auto j = nlohmann::json::parse(kCatalogJson);
    c.version = j.at("version").get<int>();
    for (const auto& e : j.at("causes")) {
      c.causes.push_back({e.at("id"), e.at("permanence"), e.at("remedy"), e.at("meaning")});
    }
    for (const auto& e : j.at("codes")) {
      c.codes.push_back({e.at("domain"), e.at("code").get<int64_t>(), e.at("name"), e.at("meaning"),
                         e.at("causes").get<std::vector<std::string>>()});
    }
    return c;
  }();
  return catalog;
}

}  // namespace

const CauseEntry& Lookup(std::string_view cause_id) {
  const auto& causes = Get().causes;
  for (const auto& c : causes) {
    if (c.id == cause_id) return c;
  }
  for (const auto& c : causes) {
    if (c.id == "unknown") return c;
  }
  static const CauseEntry kUnknown{"unknown", "unknown", "report", "Not a known cause."};
  return kUnknown;
}

const CodeEntry* FindCode(std::string_view domain, int64_t code) {
  for (const auto& c : Get().codes) {
    if (c.domain == domain && c.code == code) return &c;
  }
  return nullptr;
}

std::string CauseForCode(std::string_view domain, int64_t code) {
  const CodeEntry* e = FindCode(domain, code);
  if (e == nullptr || e->causes.empty()) return "unknown";
  return e->causes.front();
}

std::vector<const CodeEntry*> FindCodesByNumber(int64_t code) {
  std::vector<const CodeEntry*> out;
  for (const auto& c : Get().codes) {
    if (c.code == code) out.push_back(&c);
  }
  return out;
}

const std::vector<CauseEntry>& AllCauses() { return Get().causes; }
const std::vector<CodeEntry>& AllCodes() { return Get().codes; }
int Version() { return Get().version; }

}  // namespace enclave::catalog
