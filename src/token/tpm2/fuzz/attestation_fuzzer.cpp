// libFuzzer over the TPM attestation checks a relying party runs on a client's bytes (the
// enclave-tpm extension's three fields): the input is u16be len ‖ TPMS_ATTEST ‖ u16be len ‖
// signature ‖ the attestation key's TPMT_PUBLIC. Each call returns a value or an error.
#include <cstddef>
#include <cstdint>

#include "token/tpm2/tpm2_attestation.h"

namespace {

// The next u16be-prefixed field of `in`, or all that is left when the prefix does not fit.
enclave::ByteView Field(enclave::ByteView& in) {
  if (in.size() < 2) {
    enclave::ByteView all = in;
    in = {};
    return all;
  }
  size_t n = (size_t{in[0]} << 8) | in[1];
  in = in.subspan(2);
  if (n > in.size()) n = in.size();
  enclave::ByteView out = in.first(n);
  in = in.subspan(n);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  enclave::ByteView in(data, size);
  const enclave::ByteView certify_info = Field(in);
  const enclave::ByteView signature = Field(in);
  // P-256's generator: a point that parses, so that the checks after the key's get reached.
  static const uint8_t kKey[65] = {
      0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40, 0xf2,
      0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96, 0x4f,
      0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce,
      0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5};
  const uint8_t nonce[32] = {1};
  auto statement = enclave::token::tpm2::StatementFromTpmFields(certify_info, signature, in, nonce);
  if (statement.ok()) (void)enclave::token::tpm2::VerifyStatement(*statement, kKey, nonce);
  return 0;
}
