// libFuzzer over every WebAuthn parser that reads a client's bytes: the first byte picks the
// parser, the rest is its input. Each must return a value or an error, never crash or recurse.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "webauthn/webauthn.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::span<const uint8_t> in(data + 1, size - 1);
  using namespace enclave::webauthn;
  switch (data[0] % 7) {
    case 0: {
      auto d = ParseAuthenticatorData(in);
      if (d.ok()) {
        (void)FindDeviceProof(*d);
        (void)FindTpmCertify(*d);
        if (d->attested) (void)CoseToEvpPkey(d->attested->cose_key);
      }
      break;
    }
    case 1: {
      auto a = ParseAttestationObject(in);
      if (a.ok()) (void)VerifyAttestation(*a, std::vector<uint8_t>(32));
      break;
    }
    case 2:
      (void)CoseToEvpPkey(in);
      break;
    case 3:
      // The two enclave extensions' values are both small integer-keyed maps.
      (void)ParseDeviceProof(in);
      (void)ParseTpmCertify(in);
      break;
    case 4:
      (void)ParseExtensions(in);
      break;
    case 5:
      (void)ParseClientData(in);
      break;
    default:
      (void)Base64UrlDecode(std::string_view(reinterpret_cast<const char*>(in.data()), in.size()));
      break;
  }
  return 0;
}
