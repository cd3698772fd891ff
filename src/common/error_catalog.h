// The error catalog: every cause id enclave can report, with its permanence and remedy, and
// the platform codes it knows. Generated from data (errors/catalog.json) at build time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace enclave::catalog {

struct CauseEntry {
  std::string id;
  std::string permanence;  // transient | needs-user-action | permanent | none
  std::string remedy;      // retry | unlock | authenticate | set-passcode | enroll-biometry | reenroll | report | fix-call | fix-setup | none
  std::string meaning;
};

struct CodeEntry {
  std::string domain;
  int64_t code = 0;
  std::string name;     // e.g. errSecItemNotFound
  std::string meaning;
  std::vector<std::string> causes;  // likely cause ids, most likely first
};

// Unknown ids give the "unknown" entry (permanence "unknown", remedy "report").
const CauseEntry& Lookup(std::string_view cause_id);
// The most likely cause id for a bare (domain, code); "unknown" when not catalogued.
std::string CauseForCode(std::string_view domain, int64_t code);
const CodeEntry* FindCode(std::string_view domain, int64_t code);
// Codes are matched by number alone when the domain is not known (e.g. "error -25293").
std::vector<const CodeEntry*> FindCodesByNumber(int64_t code);
const std::vector<CauseEntry>& AllCauses();
const std::vector<CodeEntry>& AllCodes();
int Version();

}  // namespace enclave::catalog
