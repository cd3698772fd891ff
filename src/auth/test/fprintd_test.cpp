// The fprintd provider against a real fprintd on a private system bus, with libfprint's
// virtual device standing in for a reader and python-dbusmock standing in for polkit. No root,
// hardware, systemd or logind needed. Scans are fed through the virtual device's socket.
#include "auth/fprintd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "auth/test/temp_dir.h"

extern char** environ;

namespace enclave::auth {
namespace {

using namespace std::chrono_literals;

constexpr char kDbusDaemon[] = "/usr/bin/dbus-daemon";
constexpr char kFprintd[] = "/usr/libexec/fprintd";
// Debian's python: a pyenv or venv python on PATH has neither gi nor dbusmock.
constexpr char kPython[] = "/usr/bin/python3";
constexpr char kFinger[] = "right-index-finger";

bool Executable(const char* path) { return ::access(path, X_OK) == 0; }

pid_t Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
            const std::string& log) {
  std::vector<std::string> env_strings(extra_env);
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args(argv);
  std::vector<char*> argp;
  for (auto& s : args) argp.push_back(s.data());
  argp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  if (posix_spawn(&pid, argp[0], &actions, nullptr, argp.data(), envp.data()) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

void Stop(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 50; ++i) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(100ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

struct BusUnref {
  void operator()(sd_bus* b) const { sd_bus_flush_close_unref(b); }
};
using TestBus = std::unique_ptr<sd_bus, BusUnref>;

TestBus OpenSystemBus() {
  sd_bus* raw = nullptr;
  if (sd_bus_open_system(&raw) < 0) return nullptr;
  return TestBus(raw);
}

bool WaitForName(const char* name) {
  for (int i = 0; i < 200; ++i) {
    if (TestBus bus = OpenSystemBus()) {
      sd_bus_error err = SD_BUS_ERROR_NULL;
      sd_bus_message* reply = nullptr;
      int r = sd_bus_call_method(bus.get(), "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                 "org.freedesktop.DBus", "NameHasOwner", &err, &reply, "s", name);
      int has = 0;
      if (r >= 0) sd_bus_message_read(reply, "b", &has);
      sd_bus_message_unref(reply);
      sd_bus_error_free(&err);
      if (has) return true;
    }
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

// The virtual device protocol: one command per connection, no newline, read until the driver
// closes. The socket refuses connections until fprintd has claimed the device, so retry.
bool SendToDevice(const std::string& socket_path, const std::string& command) {
  for (int attempt = 0; attempt < 400; ++attempt) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      bool ok =
          ::send(fd, command.data(), command.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(command.size());
      char buf[256];
      while (ok && ::read(fd, buf, sizeof buf) > 0) {
      }
      ::close(fd);
      return ok;
    }
    ::close(fd);
    std::this_thread::sleep_for(25ms);
  }
  return false;
}

class FprintdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Executable(kDbusDaemon) || !Executable(kFprintd) || !Executable(kPython)) {
      GTEST_SKIP() << "needs dbus-daemon, /usr/libexec/fprintd and /usr/bin/python3 (packages dbus, fprintd)";
    }
    if (std::system("/usr/bin/python3 -c 'import dbusmock, gi' >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "needs python3-dbusmock and python3-gi for the polkit stand-in";
    }
    ::chmod(dir_.path().c_str(), 0755);
    const std::string bus_socket = dir_.file("system_bus_socket");
    std::ofstream(dir_.file("system-bus.conf"))
        << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
           " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
           "<busconfig><type>system</type><listen>unix:path="
        << bus_socket
        << "</listen><auth>EXTERNAL</auth>\n"
           "<policy context=\"default\"><allow user=\"*\"/><allow own=\"*\"/><allow "
           "send_type=\"method_call\"/>"
           "<allow send_destination=\"*\"/><allow receive_sender=\"*\"/></policy></busconfig>\n";
    bus_ = Spawn({kDbusDaemon, "--config-file=" + dir_.file("system-bus.conf"), "--nofork", "--nopidfile"},
                 {}, dir_.file("bus.log"));
    ASSERT_GT(bus_, 0);
    for (int i = 0; i < 200 && ::access(bus_socket.c_str(), F_OK) != 0; ++i)
      std::this_thread::sleep_for(20ms);
    setenv("DBUS_SYSTEM_BUS_ADDRESS", ("unix:path=" + bus_socket).c_str(), 1);

    polkit_ =
        Spawn({kPython, "-m", "dbusmock", "--system", "--template", "polkitd"}, {}, dir_.file("polkit.log"));
    ASSERT_TRUE(WaitForName("org.freedesktop.PolicyKit1")) << "the polkit stand-in did not start";
    ASSERT_TRUE(AllowFprintdActions());

    ::mkdir(dir_.file("state").c_str(), 0700);
    device_socket_ = dir_.file("virtual-device.socket");
    fprintd_ = Spawn({kFprintd, "--no-timeout"},
                     {"FP_VIRTUAL_DEVICE=" + device_socket_, "FP_DRIVERS_WHITELIST=virtual_device",
                      "STATE_DIRECTORY=" + dir_.file("state"), "RUNTIME_DIRECTORY=" + dir_.path().string()},
                     dir_.file("fprintd.log"));
    ASSERT_TRUE(WaitForName("net.reactivated.Fprint")) << "fprintd did not start";

    FprintdOptions options;
    options.verify_timeout = 30s;
    auto fp = Fprintd::Open(options);
    ASSERT_TRUE(fp.ok()) << fp.error().ToString();
    fprintd_provider_ = std::move(fp).value();
  }

  void TearDown() override {
    fprintd_provider_.reset();
    Stop(fprintd_);
    Stop(polkit_);
    Stop(bus_);
    unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
  }

  bool AllowFprintdActions() {
    TestBus bus = OpenSystemBus();
    if (!bus) return false;
    sd_bus_error err = SD_BUS_ERROR_NULL;
    int r =
        sd_bus_call_method(bus.get(), "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
                           "org.freedesktop.DBus.Mock", "SetAllowed", &err, nullptr, "as", 2,
                           "net.reactivated.fprint.device.verify", "net.reactivated.fprint.device.enroll");
    sd_bus_error_free(&err);
    return r >= 0;
  }

  // Feeds `scans` in the background while `operation` (which claims the device) runs.
  template <typename F>
  auto WithScans(std::vector<std::string> commands, F&& operation) {
    std::thread feeder([this, commands] {
      for (const auto& c : commands) EXPECT_TRUE(SendToDevice(device_socket_, c)) << c;
    });
    auto result = operation();
    feeder.join();
    return result;
  }

  Status Enroll() {
    return WithScans(std::vector<std::string>(5, "SCAN finger-A"),
                     [&] { return fprintd_provider_->EnrollSlowly(kFinger); });
  }

  testing::TempDir dir_;
  pid_t bus_ = -1, polkit_ = -1, fprintd_ = -1;
  std::string device_socket_;
  std::unique_ptr<Fprintd> fprintd_provider_;
};

TEST_F(FprintdTest, NoPrintsEnrolledIsBiometryNotEnrolled) {
  auto state = fprintd_provider_->State();
  ASSERT_TRUE(state.ok()) << state.error().ToString();
  EXPECT_TRUE(state->available);
  EXPECT_TRUE(state->enrolled.empty());
  EXPECT_FALSE(state->detects_set_changes);

  Status s = fprintd_provider_->AuthenticateSlowly("Verify your identity");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().domain, domain::kLocalAuthentication);
  EXPECT_EQ(s.error().code, laerror::kBiometryNotEnrolled);

  AccessPolicy p = *AccessPolicy::FromNames({"biometry-any", "private-key-usage"});
  s = BindPolicyAtCreation(p, fprintd_provider_.get());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, laerror::kBiometryNotEnrolled);
}

TEST_F(FprintdTest, EnrollThenMatchAndNoMatch) {
  Status enrolled = Enroll();
  ASSERT_TRUE(enrolled.ok()) << enrolled.error().ToString();
  auto state = fprintd_provider_->State();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->enrolled, std::vector<std::string>{kFinger});
  EXPECT_EQ(state->database_id.size(), 32u);

  Status match =
      WithScans({"SCAN finger-A"}, [&] { return fprintd_provider_->AuthenticateSlowly("Verify"); });
  EXPECT_TRUE(match.ok()) << match.error().ToString();

  Status no_match =
      WithScans({"SCAN finger-B"}, [&] { return fprintd_provider_->AuthenticateSlowly("Verify"); });
  ASSERT_FALSE(no_match.ok());
  EXPECT_EQ(no_match.error().domain, domain::kLocalAuthentication);
  EXPECT_EQ(no_match.error().code, laerror::kAuthenticationFailed);
}

TEST_F(FprintdTest, ReaderErrorsAreAuthenticationFailedWithDetails) {
  ASSERT_TRUE(Enroll().ok());
  Status s = WithScans({"ERROR 5"}, [&] { return fprintd_provider_->AuthenticateSlowly("Verify"); });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, laerror::kAuthenticationFailed);
  EXPECT_EQ(s.error().user_info["fprintd_result"], "verify-disconnected");
}

TEST_F(FprintdTest, CancelIsUserCancel) {
  ASSERT_TRUE(Enroll().ok());
  std::atomic<bool> finished{false};
  std::thread canceller([&] {
    while (!finished) {
      fprintd_provider_->CancelAuthentication();
      std::this_thread::sleep_for(50ms);
    }
  });
  Status s = fprintd_provider_->AuthenticateSlowly("Verify");
  finished = true;
  canceller.join();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, laerror::kUserCancel);
}

TEST_F(FprintdTest, BindsBiometryAnyAndRefusesCurrentSet) {
  ASSERT_TRUE(Enroll().ok());
  AccessPolicy any = *AccessPolicy::FromNames({"biometry-any", "private-key-usage"});
  ASSERT_TRUE(BindPolicyAtCreation(any, fprintd_provider_.get()).ok());
  EXPECT_FALSE(any.biometry_database_id.empty());

  AccessPolicy current = *AccessPolicy::FromNames({"biometry-current-set", "private-key-usage"});
  Status s = BindPolicyAtCreation(current, fprintd_provider_.get());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, errsec::kParam);
  EXPECT_NE(s.error().description.find("cannot be enforced by fprintd"), std::string::npos);
  EXPECT_FALSE(fprintd_provider_->Limitations().empty());

  // The evaluator prompts through fprintd.
  EvaluatorDeps deps;
  deps.biometry = fprintd_provider_.get();
  AuthRequest request;
  request.operation_prompt = "Verify your identity";
  auto r = WithScans({"SCAN finger-A"}, [&] { return Evaluate(any, request, deps); });
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_TRUE(r->prompted);
}

TEST_F(FprintdTest, DeletedFingerIsNotEnrolledAnyMore) {
  ASSERT_TRUE(Enroll().ok());
  ASSERT_TRUE(fprintd_provider_->DeleteEnrolledFinger(kFinger).ok());
  auto state = fprintd_provider_->State();
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->enrolled.empty());
}

}  // namespace
}  // namespace enclave::auth
