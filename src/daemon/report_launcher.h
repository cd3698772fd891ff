// Starts the fleet report sender (`enclave report send --until-empty`, docs/fleet.md) when the
// enclave queued reports. The sender is a separate client process because enclaved never talks
// to the network: the sender takes the queue over the socket, has the batch signed by the
// device key and posts it itself. At most one runs per daemon; a kick while one runs starts
// another once it ends (it may have looked at the queue before the new reports were written).
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>

namespace enclave::daemon {

class ReportLauncher {
 public:
  explicit ReportLauncher(std::filesystem::path home);
  // Starts a sender now, or once the running one exits. Never blocks on it.
  void Kick();

  struct State;

 private:
  std::shared_ptr<State> state_;  // shared with the thread that reaps each sender
};

// Where the `enclave` executable is: $ENCLAVE_CLI, else beside enclaved (the build tree), else
// the installed bin directory relative to enclaved's libexec directory, else the install prefix's.
std::filesystem::path SenderExecutable();

}  // namespace enclave::daemon
