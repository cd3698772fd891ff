// A second thread for one connection: when a peer pipelines signatures, the daemon signs the
// request it read ahead on this thread while serving the current one, so one connection can use
// two cores. Made on first use; most connections never need one.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace enclave::daemon {

class SideWorker {
 public:
  SideWorker();
  ~SideWorker();
  SideWorker(const SideWorker&) = delete;
  SideWorker& operator=(const SideWorker&) = delete;

  // Runs `job` on the worker's thread; Wait() returns once it has finished. One job at a time.
  void Start(std::function<void()> job);
  void Wait();

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> job_;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace enclave::daemon
