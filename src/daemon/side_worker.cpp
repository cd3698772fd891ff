#include "daemon/side_worker.h"

namespace enclave::daemon {

SideWorker::SideWorker() : thread_([this] { Loop(); }) {}

SideWorker::~SideWorker() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void SideWorker::Start(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    job_ = std::move(job);
    busy_ = true;
  }
  cv_.notify_all();
}

void SideWorker::Wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !busy_; });
}

void SideWorker::Loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || busy_; });
    if (busy_) {
      std::function<void()> job = std::move(job_);
      lock.unlock();
      job();
      lock.lock();
      busy_ = false;
      cv_.notify_all();
      continue;
    }
    if (stopping_) return;
  }
}

}  // namespace enclave::daemon
