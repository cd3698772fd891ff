// A bounded pool of store connections. A broken connection (a failure, a server that restarted) is
// dropped when it comes back, and the next caller opens a new one: that is the reconnect, so a
// store that went away costs each request one fast failure, and nothing once it is back.
// Private to src/rp/store.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "rp/store/sql.h"

namespace enclave::rp::sql {

class Pool {
 public:
  using Factory = std::function<Result<std::unique_ptr<Connection>>()>;

  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Connection> c) : pool_(pool), c_(std::move(c)) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), c_(std::move(o.c_)) { o.pool_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pool_) pool_->Return(std::move(c_));
    }
    Connection& operator*() { return *c_; }
    Connection* operator->() { return c_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> c_;
  };

  Pool(Factory factory, size_t max_connections) : factory_(std::move(factory)), max_(max_connections) {}
  // A connection within `wait` (store-busy past it), opened now if none is idle.
  Result<Lease> Acquire(std::chrono::milliseconds wait = std::chrono::milliseconds(3000));

 private:
  void Return(std::unique_ptr<Connection> c);

  Factory factory_;
  size_t max_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  size_t open_ = 0;  // idle and leased
};

}  // namespace enclave::rp::sql
