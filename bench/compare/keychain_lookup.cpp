// Keychain lookup by application label in a real SQLite keychain file of N items, in-process, in
// the peers' RESULT format; then durable key creations in the same file (synchronous=FULL, as
// the enclave runs it), so that a fast lookup is not bought with a weaker commit.
//
// usage: keychain_lookup DB N [LOOKUPS]
// DB is created and filled up to N items on the first run (in transactions of 10,000) and reused.
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "keychain/keychain.h"

namespace {

using enclave::Bytes;
using enclave::keychain::KeyItem;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "keychain_lookup: %s\n", what.c_str());
  std::exit(1);
}

Bytes Label(uint64_t i) {
  const std::string s = "customer-" + std::to_string(i);
  return Bytes(s.begin(), s.end());
}

KeyItem Item(uint64_t i) {
  KeyItem item;
  char kid[17];
  std::snprintf(kid, sizeof kid, "%016llx", static_cast<unsigned long long>(i * 0x9E3779B97F4A7C15ull));
  item.kid = kid;
  item.label = "key " + std::to_string(i);
  item.application_label = Label(i);
  item.token = "soft";
  item.accessible = "aku";
  item.access_control = R"({"app_pw":"","bio_db":"","bio_set":"","flags":1073741824,"v":1})";
  item.public_key_x963 = Bytes(65);
  item.sealed_blob = Bytes(120);
  RAND_bytes(item.public_key_x963.data(), static_cast<int>(item.public_key_x963.size()));
  RAND_bytes(item.sealed_blob.data(), static_cast<int>(item.sealed_blob.size()));
  return item;
}

double Pct(const std::vector<double>& sorted, double p) {
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void Report(const std::string& op, std::vector<double> lat_us, double secs) {
  std::sort(lat_us.begin(), lat_us.end());
  std::printf(
      "RESULT system=enclave-keychain op=%s n=%zu secs=%.3f ops_per_s=%.1f p50_us=%.2f p99_us=%.2f "
      "min_us=%.2f max_us=%.2f\n",
      op.c_str(), lat_us.size(), secs, static_cast<double>(lat_us.size()) / secs, Pct(lat_us, 50),
      Pct(lat_us, 99), lat_us.front(), lat_us.back());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) Die("usage: keychain_lookup DB N [LOOKUPS]");
  const uint64_t n = std::strtoull(argv[2], nullptr, 10);
  const size_t lookups = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 20000;
  if (n == 0 || lookups == 0) Die("N and LOOKUPS must be positive");
  auto kc = enclave::keychain::Keychain::Open(argv[1]);
  if (!kc.ok()) Die(kc.error().ToString());
  auto count = (*kc)->Count();
  if (!count.ok()) Die(count.error().ToString());
  for (uint64_t i = static_cast<uint64_t>(*count); i < n;) {
    std::vector<KeyItem> batch;
    for (; i < n && batch.size() < 10000; ++i) batch.push_back(Item(i));
    if (auto added = (*kc)->AddAll(std::move(batch)); !added.ok()) Die(added.error().ToString());
  }
  const std::string items = std::to_string(n) + "_items";

  std::mt19937_64 rng(42);
  std::uniform_int_distribution<uint64_t> pick(0, n - 1);
  using Clock = std::chrono::steady_clock;
  std::vector<double> lat;
  lat.reserve(lookups);
  enclave::keychain::ItemQuery q;
  const auto all = Clock::now();
  for (size_t k = 0; k < lookups; ++k) {
    q.application_label = Label(pick(rng));
    const auto t0 = Clock::now();
    auto found = (*kc)->Find(q);
    const auto t1 = Clock::now();
    if (!found.ok() || found->size() != 1) Die("a stored item was not found");
    lat.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  Report("find_by_application_label_" + items, lat,
         std::chrono::duration<double>(Clock::now() - all).count());

  // Durable creations: each its own transaction, fsync'd; removed again so the file keeps N items.
  lat.clear();
  std::vector<int64_t> created;
  const auto adds = Clock::now();
  for (uint64_t k = 0; k < 50; ++k) {
    const auto t0 = Clock::now();
    auto added = (*kc)->Add(Item(n + k));
    const auto t1 = Clock::now();
    if (!added.ok()) Die(added.error().ToString());
    created.push_back(added->persistent_id);
    lat.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  Report("add_item_durable_" + items, lat, std::chrono::duration<double>(Clock::now() - adds).count());
  for (int64_t id : created) {
    enclave::keychain::ItemQuery del;
    del.persistent_id = id;
    (void)(*kc)->Delete(del);
  }
  return 0;
}
