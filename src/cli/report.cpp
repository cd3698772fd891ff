// `enclave report show|send`: the fleet reports this device queued for its relying party
// (docs/fleet.md). `show` prints exactly what is queued and what was sent; `send` posts the queue
// from this process (enclaved starts `send --until-empty` itself when it queues a report).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <thread>

#include "cli/context.h"
#include "common/home.h"
#include "reports/sender.h"

namespace enclave::cli {
namespace {

struct SendFlags {
  bool until_empty = false;
  long daemon_pid = 0;
  std::string ca_file;
  long timeout_seconds = 10;
};

std::string ReportLine(const nlohmann::json& r) { return "  " + r.dump() + "\n"; }

std::string ShowText(const nlohmann::json& doc) {
  std::string text = "reports: ";
  if (doc.value("enabled", false)) {
    text += "on, to " + doc.value("report_server", std::string()) + " (" +
            std::to_string(doc.value("registered_keys", 0)) + " keys registered there)\n";
  } else {
    text += "off (enclave config set report-server URL; enclave config set report-failures on)\n";
  }
  const auto queued = doc.value("queued", nlohmann::json::array());
  text += "queued: " + std::to_string(queued.size()) + "\n";
  for (const auto& r : queued) text += ReportLine(r);
  const auto sent = doc.value("sent", nlohmann::json::array());
  text += "sent: " + std::to_string(sent.size()) + "\n";
  for (const auto& s : sent) {
    text += "  " + s.value("sent_at", std::string()) + " " + s.value("result", std::string()) +
            (s.contains("reason") ? " (" + s.value("reason", std::string()) + ")" : "") + "\n  " +
            ReportLine(s.value("report", nlohmann::json::object()));
  }
  text += "dropped: " + std::to_string(doc.value("dropped_pending", 0)) + " not yet reported, " +
          std::to_string(doc.value("dropped_total", 0)) + " in all\n";
  return text;
}

// One sender per home at a time (the daemon's, a timer's, a user's): the lock is a file in the
// home's reports folder. Without a home of its own (system mode) there is nothing to share.
class SenderLock {
 public:
  explicit SenderLock(const std::filesystem::path& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    fd_ = ::open((dir / "sender.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  }
  ~SenderLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  SenderLock(const SenderLock&) = delete;
  SenderLock& operator=(const SenderLock&) = delete;
  bool TryTake() { return fd_ < 0 || ::flock(fd_, LOCK_EX | LOCK_NB) == 0; }

 private:
  int fd_ = -1;
};

int Send(Context& ctx, const SendFlags& f) {
  reports::SendOptions options;
  options.until_empty = f.until_empty;
  options.http.ca_file = f.ca_file;
  options.http.timeout_ms = f.timeout_seconds * 1000;
  if (f.daemon_pid > 0) {
    // Started by enclaved: serve only it. It must not be restarted by its own sender after it
    // stopped (an unfindable daemon disables the client's autostart), and once it is gone (this
    // process was reparented) the sender ends.
    ::setenv("ENCLAVED", "/dev/null", 1);
    const pid_t parent = static_cast<pid_t>(f.daemon_pid);
    options.keep_going = [parent] { return ::getppid() == parent; };
  }
  std::unique_ptr<SenderLock> lock;
  if (!SystemSocket()) {
    lock = std::make_unique<SenderLock>(ResolveHome() / "reports");
    while (!lock->TryTake()) {
      if (!f.until_empty || (options.keep_going && !options.keep_going())) {
        return ctx.Print({{"busy", true}}, "another report sender is running for this home\n");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
  auto api = ctx.Connect();
  if (!api.ok()) return ctx.Fail(api.error());
  auto sent = reports::SendQueued(**api, options);
  if (!sent.ok()) return ctx.Fail(sent.error());
  const auto& s = *sent;
  std::string text = !s.enabled
                         ? "reports are off: nothing sent\n"
                         : "sent " + std::to_string(s.accepted) + " reports to " + s.server + " (" +
                               std::to_string(s.duplicates) + " already there, " + std::to_string(s.refused) +
                               " refused); " + std::to_string(s.queued) + " queued\n";
  return ctx.Print(s.ToJson(), text);
}

}  // namespace

void AddReportCommands(CLI::App& app, Context& ctx) {
  CLI::App* report =
      app.add_subcommand("report", "fleet reports of dead keys for the relying party (opt-in)");
  report->require_subcommand(1);

  CLI::App* show = report->add_subcommand("show", "print exactly what is queued and what was sent");
  show->callback([&ctx] {
    auto api = ctx.Connect();
    if (!api.ok()) {
      ctx.status = ctx.Fail(api.error());
      return;
    }
    auto doc = (*api)->Admin("reports.show", nlohmann::json::object(), {});
    ctx.status = doc.ok() ? ctx.Print(*doc, ShowText(*doc)) : ctx.Fail(doc.error());
  });

  auto f = std::make_shared<SendFlags>();
  CLI::App* send = report->add_subcommand("send", "send the queued reports to the report server now");
  send->add_flag("--until-empty", f->until_empty,
                 "retry an unreachable server with backoff (up to 10 s apart, for 15 minutes) until the "
                 "queue is empty");
  send->add_option("--daemon-pid", f->daemon_pid, "(for enclaved) stop when this parent daemon is gone")
      ->group("");
  send->add_option("--ca-file", f->ca_file, "PEM file of the CAs to trust (default: the system's store)");
  send->add_option("--timeout", f->timeout_seconds, "seconds an HTTP request may take (default 10)")
      ->check(CLI::Range(1, 600));
  send->callback([&ctx, f] { ctx.status = Send(ctx, *f); });
}

}  // namespace enclave::cli
