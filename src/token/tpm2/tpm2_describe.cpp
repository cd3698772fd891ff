#include <cstdio>
#include <map>
#include <string>

#include "token/tpm2/tpm2_token_impl.h"

namespace enclave::token::tpm2 {
namespace {

using Properties = std::map<TPM2_PT, uint32_t>;

// Reads a group of TPM properties (fixed: 0x100.., variable: 0x200..), paging while the
// TPM says there is more.
TSS2_RC ReadProperties(ESYS_CONTEXT* esys, TPM2_PT first, TPM2_PT end, Properties* out) {
  TPM2_PT next = first;
  for (;;) {
    TPMI_YES_NO more = TPM2_NO;
    TPMS_CAPABILITY_DATA* raw = nullptr;
    const TSS2_RC rc =
        Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES, next,
                           TPM2_MAX_TPM_PROPERTIES, &more, &raw);
    EsysPtr<TPMS_CAPABILITY_DATA> data(raw);
    if (rc != TSS2_RC_SUCCESS) return rc;
    const auto& list = data->data.tpmProperties;
    if (list.count == 0) return TSS2_RC_SUCCESS;
    for (UINT32 i = 0; i < list.count; ++i) {
      if (list.tpmProperty[i].property >= end) return TSS2_RC_SUCCESS;
      (*out)[list.tpmProperty[i].property] = list.tpmProperty[i].value;
    }
    if (more != TPM2_YES) return TSS2_RC_SUCCESS;
    next = list.tpmProperty[list.count - 1].property + 1;
  }
}

// Vendor strings are packed big-endian 4-character groups, padded with NULs or spaces.
std::string Ascii(const Properties& p, std::initializer_list<TPM2_PT> ids) {
  std::string s;
  for (TPM2_PT id : ids) {
    auto it = p.find(id);
    if (it == p.end()) continue;
    for (int shift = 24; shift >= 0; shift -= 8) {
      const char c = static_cast<char>((it->second >> shift) & 0xFF);
      if (c >= 0x20 && c < 0x7F) s.push_back(c);
    }
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

uint32_t Get(const Properties& p, TPM2_PT id) {
  auto it = p.find(id);
  return it == p.end() ? 0 : it->second;
}

// Vendors split FIRMWARE_VERSION_1 into major.minor (16 bits each); version 2 is build data.
std::string FirmwareVersion(const Properties& p) {
  const uint32_t v1 = Get(p, TPM2_PT_FIRMWARE_VERSION_1);
  const uint32_t v2 = Get(p, TPM2_PT_FIRMWARE_VERSION_2);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%u.%u.%u.%u", v1 >> 16, v1 & 0xFFFF, v2 >> 16, v2 & 0xFFFF);
  return buf;
}

std::string Spec(const Properties& p) {
  const std::string family = Ascii(p, {TPM2_PT_FAMILY_INDICATOR});
  const uint32_t revision = Get(p, TPM2_PT_REVISION);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s rev %u.%02u", family.c_str(), revision / 100, revision % 100);
  return buf;
}

}  // namespace

nlohmann::json DescribeTpm(Tpm2Device& device) {
  nlohmann::json j;
  j["id"] = "tpm2";
  j["tcti"] = device.tcti();
  Properties fixed;
  Properties variable;
  const Status read = device.WithContext("TPM2_GetCapability", [&](ESYS_CONTEXT* esys) {
    fixed.clear();
    variable.clear();
    TSS2_RC rc = ReadProperties(esys, TPM2_PT_FIXED, TPM2_PT_VAR, &fixed);
    if (rc == TSS2_RC_SUCCESS) rc = ReadProperties(esys, TPM2_PT_VAR, TPM2_PT_VAR + 0x100, &variable);
    return rc;
  });
  if (!read.ok()) {
    j["available"] = false;
    j["error"] = read.error().ToJson();
    return j;
  }
  j["available"] = true;
  j["manufacturer"] = Ascii(fixed, {TPM2_PT_MANUFACTURER});
  j["vendor_string"] = Ascii(fixed, {TPM2_PT_VENDOR_STRING_1, TPM2_PT_VENDOR_STRING_2,
                                     TPM2_PT_VENDOR_STRING_3, TPM2_PT_VENDOR_STRING_4});
  j["firmware_version"] = FirmwareVersion(fixed);
  j["spec"] = Spec(fixed);
  j["lockout_counter"] = Get(variable, TPM2_PT_LOCKOUT_COUNTER);
  j["max_auth_fail"] = Get(variable, TPM2_PT_MAX_AUTH_FAIL);
  j["lockout_interval"] = Get(variable, TPM2_PT_LOCKOUT_INTERVAL);
  j["lockout_recovery"] = Get(variable, TPM2_PT_LOCKOUT_RECOVERY);
  j["in_lockout"] = (Get(variable, TPM2_PT_PERMANENT) & TPMA_PERMANENT_INLOCKOUT) != 0;
  j["transient_object_slots"] = Get(fixed, TPM2_PT_HR_TRANSIENT_MIN);
  j["loaded_key_cache"] = device.cache_capacity();
  return j;
}

}  // namespace enclave::token::tpm2
