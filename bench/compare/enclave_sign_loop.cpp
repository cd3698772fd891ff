// enclave's signing loops for `make bench-compare`, printing RESULT lines in the format of the
// peers' loops (common.h), so that every system lands in one table:
//   enclave_sign_loop service N            in-process Enclave/Session (no daemon)
//   enclave_sign_loop daemon N             one client, one request in flight
//   enclave_sign_loop pipelined N W        one client, W requests in flight (Client::SignBatch)
//   enclave_sign_loop clients N C [W]      C clients (threads, a connection each) at once
// Each signs a 32-byte SHA-256 digest (ecdsa-signature-digest-x962-sha256) with a P-256 key, as
// the OpenSSL, SoftHSM2 and TPM loops do. The key's token is $ENCLAVE_BENCH_TOKEN (soft by
// default; tpm2 needs $ENCLAVE_TEST_TPM2_TCTI). The daemon is enclaved beside this program or
// $ENCLAVED; the enclave home is a fresh temporary directory, removed at the end.
//
// With requests pipelined, one request's latency is not observed directly: p50/p99 are those of
// (batch time / batch size x requests in flight), by Little's law, over batches of 4W requests.
#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "crypto/ec.h"
#include "service/enclave.h"

namespace {
namespace fs = std::filesystem;
using namespace enclave;

constexpr char kAlgorithm[] = "ecdsa-signature-digest-x962-sha256";

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void Report(const std::string& system, const std::string& op, std::vector<uint64_t> lat, size_t n,
            uint64_t total_ns) {
  if (lat.empty() || total_ns == 0) return;
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(lat.size())));
    rank = std::clamp<size_t>(rank, 1, lat.size());
    return static_cast<double>(lat[rank - 1]) / 1e3;
  };
  const double secs = static_cast<double>(total_ns) / 1e9;
  std::printf(
      "RESULT system=%s op=%s n=%zu secs=%.3f ops_per_s=%.1f p50_us=%.2f p99_us=%.2f min_us=%.2f "
      "max_us=%.2f\n",
      system.c_str(), op.c_str(), n, secs, static_cast<double>(n) / secs, pct(50), pct(99),
      static_cast<double>(lat.front()) / 1e3, static_cast<double>(lat.back()) / 1e3);
  std::fflush(stdout);
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "enclave_sign_loop: %s\n", what.c_str());
  std::exit(1);
}

std::string Token() {
  const char* t = std::getenv("ENCLAVE_BENCH_TOKEN");
  return t != nullptr && *t != '\0' ? t : "soft";
}

KeySpec Spec() {
  KeySpec spec;
  spec.token = Token();
  spec.application_label = ToBytes("bench-compare");
  spec.accessible = "when-unlocked-this-device-only";
  spec.access_control = {"private-key-usage"};
  return spec;
}

KeyQuery Query() {
  KeyQuery q;
  q.application_label = ToBytes("bench-compare");
  return q;
}

Status ConfigureToken(Api& api) {
  if (Token() != "tpm2") return Ok();
  const char* tcti = std::getenv("ENCLAVE_TEST_TPM2_TCTI");
  if (tcti == nullptr) return OSStatusError(errsec::kParam, "tpm2 needs ENCLAVE_TEST_TPM2_TCTI");
  auto r = api.Admin("config.set", {{"key", "tpm2-tcti"}, {"value", tcti}}, {});
  if (!r.ok()) return r.error();
  return Ok();
}

const Bytes kDigest = crypto::Digest(crypto::Hash::kSha256, ToBytes("bench-compare message"));

void Loop(Api& api, size_t n, std::vector<uint64_t>* lat) {
  for (size_t i = 0; i < n; ++i) {
    const uint64_t t0 = NowNs();
    auto r = api.Sign(Query(), kAlgorithm, kDigest, {});
    const uint64_t t1 = NowNs();
    if (!r.ok()) Die(r.error().ToString());
    lat->push_back(t1 - t0);
  }
}

void Pipelined(client::Client& c, size_t n, size_t window, std::vector<uint64_t>* lat) {
  const size_t batch = 4 * window;
  const std::vector<Bytes> inputs(batch, kDigest);
  for (size_t done = 0; done < n; done += batch) {
    const uint64_t t0 = NowNs();
    auto r = c.SignBatch(Query(), kAlgorithm, inputs, {}, window);
    const uint64_t t1 = NowNs();
    if (!r.ok()) Die(r.error().ToString());
    for (const auto& one : *r) {
      if (!one.ok()) Die(one.error().ToString());
    }
    const uint64_t per_request = (t1 - t0) / batch * window;
    for (size_t i = 0; i < batch; ++i) lat->push_back(per_request);
  }
}

std::unique_ptr<client::Client> Connect(const fs::path& home) {
  client::ConnectOptions options;
  options.home = home;
  if (const char* d = std::getenv("ENCLAVED")) options.daemon_path = d;
  auto c = client::Client::Connect(options);
  if (!c.ok()) Die(c.error().ToString());
  return std::move(c).value();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) Die("usage: enclave_sign_loop service|daemon|pipelined|clients N [W|C [W]]");
  const std::string mode = argv[1];
  const size_t n = std::strtoull(argv[2], nullptr, 10);
  std::string tmpl = (fs::temp_directory_path() / "enclave-bench-compare.XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) Die("mkdtemp");
  const fs::path home = tmpl;
  const std::string system = "enclave-" + std::string(Token() == "tpm2" ? "tpm2-" : "") +
                             (mode == "service" ? "in-process" : "daemon");
  std::vector<uint64_t> lat;
  lat.reserve(n + 1024);
  if (mode == "service") {
    service::EnclaveOptions options;
    options.home = home;
    auto e = service::Enclave::Open(options);
    if (!e.ok()) Die(e.error().ToString());
    auto session = (*e)->OpenSession({});
    if (auto s = ConfigureToken(*session); !s.ok()) Die(s.error().ToString());
    if (auto k = session->CreateKey(Spec()); !k.ok()) Die(k.error().ToString());
    Loop(*session, n / 10 + 1, &lat);  // warm-up
    lat.clear();
    const uint64_t t0 = NowNs();
    Loop(*session, n, &lat);
    Report(system, "sign_digest32", lat, n, NowNs() - t0);
  } else {
    auto c = Connect(home);
    if (auto s = ConfigureToken(*c); !s.ok()) Die(s.error().ToString());
    if (auto k = c->CreateKey(Spec()); !k.ok()) Die(k.error().ToString());
    Loop(*c, n / 10 + 1, &lat);
    lat.clear();
    if (mode == "daemon") {
      const uint64_t t0 = NowNs();
      Loop(*c, n, &lat);
      Report(system, "sign_digest32_1_in_flight", lat, n, NowNs() - t0);
    } else if (mode == "pipelined") {
      const size_t window = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 16;
      const uint64_t t0 = NowNs();
      Pipelined(*c, n, window, &lat);
      Report(system, "sign_digest32_pipelined_" + std::to_string(window), lat, lat.size(), NowNs() - t0);
    } else if (mode == "clients") {
      const size_t clients = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 2;
      const size_t window = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 1;
      std::vector<std::unique_ptr<client::Client>> cs;
      for (size_t i = 0; i < clients; ++i) cs.push_back(Connect(home));
      std::vector<std::vector<uint64_t>> lats(clients);
      std::vector<std::thread> threads;
      const uint64_t t0 = NowNs();
      for (size_t i = 0; i < clients; ++i) {
        threads.emplace_back([&, i] {
          if (window > 1) {
            Pipelined(*cs[i], n, window, &lats[i]);
          } else {
            Loop(*cs[i], n, &lats[i]);
          }
        });
      }
      for (auto& t : threads) t.join();
      const uint64_t total = NowNs() - t0;
      for (auto& l : lats) lat.insert(lat.end(), l.begin(), l.end());
      std::string op = "sign_digest32_" + std::to_string(clients) + "_clients";
      if (window > 1) op += "_pipelined_" + std::to_string(window);
      Report(system, op, lat, lat.size(), total);
    } else {
      Die("unknown mode " + mode);
    }
    c.reset();
    (void)client::StopDaemon(home);
  }
  std::error_code ec;
  fs::remove_all(home, ec);
  return 0;
}
