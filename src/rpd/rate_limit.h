// Token buckets keyed by a string (a remote address, a user), for the option endpoints: each
// issues a challenge the database must keep, so they are what a flood would aim at.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace enclave::rpd {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // `rate` tokens per second, at most `burst` saved up; rate 0 turns the limiter off. At most
  // `max_keys` buckets are kept: past that, the full ones (keys that have been quiet) are dropped,
  // and if none is full, all are (a flood of distinct keys then meets fresh buckets, which is no
  // worse than a limiter that forgot them).
  RateLimiter(double rate, double burst, size_t max_keys = 100000);

  // Takes one token for `key`. 0 when granted, else the seconds until a token is there (>= 1).
  int Take(const std::string& key, Clock::time_point now = Clock::now());

  bool enabled() const { return rate_ > 0; }

 private:
  struct Bucket {
    double tokens;
    Clock::time_point last;
  };
  void Trim(Clock::time_point now);

  double rate_;
  double burst_;
  size_t max_keys_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace enclave::rpd
