// A background thread that commits buffered work in batches: it sleeps until work is pending,
// lets a batch gather for `delay` (or less once hurried), runs the commit callback without
// holding any lock of its own, and stops on Stop() or destruction. The owner keeps its buffer
// under its own lock, which the callback takes; a commit that finds nothing pending is harmless.
//
// The thread starts with the first Wake(), not in the constructor: the daemon forks to detach
// after creating its log and its enclave, and a thread does not survive a fork.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace enclave {

class Flusher {
 public:
  Flusher(std::chrono::milliseconds delay, std::function<void()> commit);
  // Stop(): the owner commits what is left itself, once its own state is final.
  ~Flusher();
  Flusher(const Flusher&) = delete;
  Flusher& operator=(const Flusher&) = delete;

  // Work is pending: a commit follows within `delay`. The owner need call it only when its
  // buffer goes from empty to not empty; work added before the commit runs is committed with it.
  void Wake();
  // Commits the pending batch without waiting out the rest of `delay`.
  void Hurry();
  // Stops and joins the thread (a commit in progress finishes first); Wake() does nothing after.
  void Stop();

 private:
  void Loop();

  const std::chrono::milliseconds delay_;
  const std::function<void()> commit_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool pending_ = false;
  bool hurry_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace enclave
