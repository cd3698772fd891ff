// Speed of the main job, with raw OpenSSL EVP signing in the same run as the reference:
// sign through the in-process service and through the daemon, key creation, and lookup by
// application label in a 100,000-item keychain. `make bench` prints each with its ratio.
#include <benchmark/benchmark.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>

#include "client/client.h"
#include "crypto/ec.h"
#include "keychain/keychain.h"
#include "service/enclave.h"

namespace {
namespace fs = std::filesystem;
using namespace enclave;

fs::path TempHome(const char* prefix) {
  std::string tmpl = (fs::temp_directory_path() / (std::string(prefix) + ".XXXXXX")).string();
  return fs::path(::mkdtemp(tmpl.data()));
}

const Bytes kMessage = ToBytes("challenge from the relying party: 32+ bytes of nonce");

KeySpec BenchSpec(const std::string& label) {
  KeySpec spec;
  spec.application_label = ToBytes(label);
  spec.accessible = "when-unlocked-this-device-only";
  spec.access_control = {"private-key-usage"};
  return spec;
}

KeyQuery ByLabel(const std::string& label) {
  KeyQuery q;
  q.application_label = ToBytes(label);
  return q;
}

// The reference: EVP_DigestSign with SHA-256 on a P-256 key held in this process.
void BM_RawOpenSslSign(benchmark::State& state) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  for (auto _ : state) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get());
    unsigned char sig[80];
    size_t len = sizeof(sig);
    EVP_DigestSign(ctx.get(), sig, &len, kMessage.data(), kMessage.size());
    benchmark::DoNotOptimize(len);
  }
}
BENCHMARK(BM_RawOpenSslSign);

struct InProcess {
  fs::path home = TempHome("enclave-bench");
  std::unique_ptr<service::Enclave> enclave;
  std::unique_ptr<service::Session> session;
  InProcess() {
    service::EnclaveOptions options;
    options.home = home;
    enclave = std::move(service::Enclave::Open(options)).value();
    session = enclave->OpenSession({});
  }
  ~InProcess() {
    session.reset();
    enclave.reset();
    fs::remove_all(home);
  }
};

void BM_ServiceSign(benchmark::State& state) {
  InProcess e;
  if (!e.session->CreateKey(BenchSpec("bench")).ok()) return state.SkipWithError("create failed");
  for (auto _ : state) {
    auto r = e.session->Sign(ByLabel("bench"), "ecdsa-signature-message-x962-sha256", kMessage, {});
    if (!r.ok()) return state.SkipWithError(r.error().ToString().c_str());
  }
}
BENCHMARK(BM_ServiceSign);

void BM_DaemonSign(benchmark::State& state) {
  const fs::path home = TempHome("enclave-bench-daemon");
  client::ConnectOptions options;
  options.home = home;
  options.daemon_path = fs::path(ENCLAVE_BIN_DIR) / "enclaved";
  auto c = client::Client::Connect(options);
  if (!c.ok()) return state.SkipWithError(c.error().ToString().c_str());
  if (!(*c)->CreateKey(BenchSpec("bench")).ok()) return state.SkipWithError("create failed");
  for (auto _ : state) {
    auto r = (*c)->Sign(ByLabel("bench"), "ecdsa-signature-message-x962-sha256", kMessage, {});
    if (!r.ok()) return state.SkipWithError(r.error().ToString().c_str());
  }
  c->reset();
  (void)client::StopDaemon(home);
  fs::remove_all(home);
}
BENCHMARK(BM_DaemonSign)->UseRealTime();

void BM_KeyCreate(benchmark::State& state) {
  InProcess e;
  int64_t i = 0;
  for (auto _ : state) {
    auto r = e.session->CreateKey(BenchSpec("k" + std::to_string(i++)));
    if (!r.ok()) return state.SkipWithError(r.error().ToString().c_str());
  }
}
BENCHMARK(BM_KeyCreate);

// Lookup by application label among 100,000 items (filled directly in the keychain: the
// lookup, not key generation, is what is measured).
void BM_LookupByLabel100k(benchmark::State& state) {
  const fs::path home = TempHome("enclave-bench-lookup");
  auto kc = std::move(keychain::Keychain::Open(home / "keychain.db")).value();
  constexpr int kItems = 100000;
  const Bytes blob = crypto::RandomBytes(80);
  (void)kc->ExecForTesting("BEGIN");
  for (int i = 0; i < kItems; ++i) {
    keychain::KeyItem item;
    item.kid = HexEncode(crypto::RandomBytes(8));
    item.application_label = ToBytes("customer-" + std::to_string(i));
    item.token = "soft";
    item.accessible = "aku";
    item.public_key_x963 = Bytes(65, 4);
    item.sealed_blob = blob;
    if (!kc->Add(std::move(item)).ok()) return state.SkipWithError("fill failed");
  }
  (void)kc->ExecForTesting("COMMIT");
  int64_t i = 0;
  for (auto _ : state) {
    keychain::ItemQuery q;
    q.application_label = ToBytes("customer-" + std::to_string((i++ * 7919) % kItems));
    auto r = kc->Find(q);
    if (!r.ok()) return state.SkipWithError(r.error().ToString().c_str());
  }
  kc.reset();
  fs::remove_all(home);
}
BENCHMARK(BM_LookupByLabel100k);

}  // namespace

BENCHMARK_MAIN();
