// libFuzzer target: the unwrap path of a key's sealed blob, which comes from the keychain
// database (editable by any process of the user): the keybag's Unseal under a class key, then
// the token's parse of what it opened (the soft token's scalar, the TPM's public/private areas).
// First byte: bit 0 chooses "raw" (the input is a sealed blob) or "sealed here" (the input is a
// token blob, sealed first so the parsers behind the AEAD see it); the rest picks the class.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "keybag/keybag.h"
#include "token/token.h"
#if ENCLAVE_HAVE_TPM2
#include "token/tpm2/tpm2_token_impl.h"
#endif

using namespace enclave;

namespace {

struct World {
  std::filesystem::path dir;
  std::unique_ptr<keybag::Keybag> bag;
  std::unique_ptr<token::Token> soft;
};

World& TheWorld() {
  static World* w = [] {
    auto* world = new World;
    std::string tmpl = (std::filesystem::temp_directory_path() / "enclave-fuzz-keybag.XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    world->dir = tmpl;
    keybag::KeybagOptions options;
    options.use_kernel_keyring = false;
    auto bag = keybag::Keybag::Open(world->dir, options);
    // The keys stay in memory; the directory is not needed after opening.
    std::filesystem::remove_all(world->dir);
    if (!bag.ok()) std::abort();
    world->bag = std::move(bag).value();
    auto soft = token::OpenToken("soft", token::TokenConfig{});
    if (!soft.ok()) std::abort();
    world->soft = std::move(soft).value();
    return world;
  }();
  return *w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  World& w = TheWorld();
  const auto& classes = keybag::AllProtectionClasses();
  const keybag::ProtectionClass pclass = classes[(data[0] >> 1) % classes.size()];
  const ByteView input(data + 1, size - 1);
  const Bytes aad = ToBytes("fuzz-aad");
  SecureBytes opened;
  if ((data[0] & 1) == 0) {
    auto pt = w.bag->Unseal(pclass, input, aad);
    if (!pt.ok()) return 0;
    opened = std::move(pt).value();
  } else {
    auto sealed = w.bag->Seal(pclass, input, aad);
    if (!sealed.ok()) return 0;
    auto pt = w.bag->Unseal(pclass, *sealed, aad);
    if (!pt.ok() || !ConstantTimeEquals(*pt, input)) std::abort();
    // A different binding must never open it.
    if (w.bag->Unseal(pclass, *sealed, ToBytes("other-aad")).ok()) std::abort();
    opened = std::move(pt).value();
  }
  if (auto key = w.soft->LoadKey(opened); key.ok()) (void)(*key)->PublicKeyX963();
#if ENCLAVE_HAVE_TPM2
  (void)token::tpm2::ParseKeyBlob(opened);
#endif
  return 0;
}
