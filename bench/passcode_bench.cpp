// The cost of one passcode guess for an attacker who holds the device secret and keybag.json
// (docs/threat-model.md): one Argon2id with the keybag's parameters, then an HKDF and a compare.
#include <benchmark/benchmark.h>

#include "common/bytes.h"
#include "crypto/ec.h"
#include "keybag/primitives.h"

namespace {

using namespace enclave;

void BM_PasscodeGuessOffline(benchmark::State& state) {
  const keybag::internal::Argon2Params params;  // the keybag's defaults
  const Bytes salt = crypto::RandomBytes(16);
  const SecureBytes device_secret = crypto::RandomSecret(32);
  int guess = 0;
  for (auto _ : state) {
    const std::string passcode = std::to_string(100000 + guess++ % 900000);
    auto stretched = keybag::internal::Argon2idSlowly(AsBytes(passcode), salt, params);
    if (!stretched.ok()) state.SkipWithError("argon2 failed");
    benchmark::DoNotOptimize(keybag::internal::HkdfSha256(*stretched, "verifier"));
  }
  state.counters["m_cost_kib"] = params.m_cost_kib;
  state.counters["t_cost"] = params.t_cost;
}
BENCHMARK(BM_PasscodeGuessOffline)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
