#include "auth/fprintd.h"

#include <pwd.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>

#include "crypto/ec.h"

namespace enclave::auth {
namespace {

constexpr char kService[] = "net.reactivated.Fprint";
constexpr char kManagerPath[] = "/net/reactivated/Fprint/Manager";
constexpr char kManagerIface[] = "net.reactivated.Fprint.Manager";
constexpr char kDeviceIface[] = "net.reactivated.Fprint.Device";
constexpr uint64_t kWaitStepUsec = 100 * 1000;

struct BusDeleter {
  void operator()(sd_bus* bus) const { sd_bus_flush_close_unref(bus); }
};
struct MessageDeleter {
  void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
struct SlotDeleter {
  void operator()(sd_bus_slot* s) const { sd_bus_slot_unref(s); }
};
using Bus = std::unique_ptr<sd_bus, BusDeleter>;
using Message = std::unique_ptr<sd_bus_message, MessageDeleter>;
using Slot = std::unique_ptr<sd_bus_slot, SlotDeleter>;

struct BusError {
  sd_bus_error e = SD_BUS_ERROR_NULL;
  ~BusError() { sd_bus_error_free(&e); }
  std::string name() const { return e.name != nullptr ? e.name : ""; }
  std::string message() const { return e.message != nullptr ? e.message : ""; }
};

Error NotAvailable(const std::string& why) {
  return AuthError(laerror::kBiometryNotAvailable, "fingerprint reader not available: " + why)
      .WithCause("biometry-not-available");
}

Error NotEnrolled() {
  return AuthError(laerror::kBiometryNotEnrolled, "no fingerprint is enrolled")
      .WithCause("biometry-not-enrolled");
}

Error FromDbus(const BusError& err, int r, const std::string& call) {
  const std::string name = err.name();
  const std::string detail =
      call + ": " + (name.empty() ? std::string(std::strerror(-r)) : name + " " + err.message());
  if (name == "net.reactivated.Fprint.Error.NoEnrolledPrints") return NotEnrolled();
  return NotAvailable(detail);
}

// A status signal from the device (VerifyStatus / EnrollStatus), kept in arrival order: with a
// queued scan the signal can arrive before the reply to the Start call.
struct DeviceStatus {
  std::string result;
  bool done = false;
};

int OnStatus(sd_bus_message* m, void* userdata, sd_bus_error* /*ret_error*/) {
  const char* result = nullptr;
  int done = 0;
  if (sd_bus_message_read(m, "sb", &result, &done) >= 0 && result != nullptr) {
    static_cast<std::deque<DeviceStatus>*>(userdata)->push_back({result, done != 0});
  }
  return 0;
}

// One claimed device on one connection; Release happens when it goes out of scope.
class Claim {
 public:
  static Result<std::unique_ptr<Claim>> Open(const std::string& user, const char* signal) {
    std::unique_ptr<Claim> c(new Claim());
    sd_bus* raw = nullptr;
    if (int r = sd_bus_open_system(&raw); r < 0) return NotAvailable("cannot connect to the system D-Bus");
    c->bus_.reset(raw);
    ASSIGN_OR_RETURN(c->path_, DefaultDevice(c->bus_.get()));
    if (signal != nullptr) {
      // Subscribe before anything starts, so that no status is lost.
      sd_bus_slot* slot = nullptr;
      int r = sd_bus_match_signal(c->bus_.get(), &slot, nullptr, c->path_.c_str(), kDeviceIface, signal,
                                  OnStatus, &c->events_);
      if (r < 0) return NotAvailable(std::string("cannot subscribe to ") + signal);
      c->slot_.reset(slot);
    }
    RETURN_IF_ERROR(c->Call("Claim", "s", user.c_str()));
    c->claimed_ = true;
    return c;
  }

  static Result<std::string> DefaultDevice(sd_bus* bus) {
    BusError err;
    sd_bus_message* reply = nullptr;
    int r = sd_bus_call_method(bus, kService, kManagerPath, kManagerIface, "GetDefaultDevice", &err.e, &reply,
                               "");
    Message owned(reply);
    if (r < 0) return FromDbus(err, r, "GetDefaultDevice");
    const char* path = nullptr;
    if (sd_bus_message_read(reply, "o", &path) < 0 || path == nullptr)
      return NotAvailable("bad GetDefaultDevice reply");
    return std::string(path);
  }

  ~Claim() {
    if (claimed_) (void)Call("Release", "");
  }

  sd_bus* bus() { return bus_.get(); }
  const std::string& path() const { return path_; }

  template <typename... Args>
  Status Call(const char* method, const char* types, Args... args) {
    BusError err;
    sd_bus_message* reply = nullptr;
    int r = sd_bus_call_method(bus_.get(), kService, path_.c_str(), kDeviceIface, method, &err.e, &reply,
                               types, args...);
    Message owned(reply);
    if (r < 0) return FromDbus(err, r, method);
    return Ok();
  }

  // Waits for a status with done=true. Intermediate statuses (retry-scan, swipe-too-short,
  // stage-passed) only mean "touch again". Returns "" on cancel or timeout.
  Result<std::string> WaitDone(std::chrono::steady_clock::time_point deadline,
                               const std::atomic<bool>& cancel, bool* timed_out) {
    for (;;) {
      while (!events_.empty()) {
        DeviceStatus s = events_.front();
        events_.pop_front();
        if (s.done) return s.result;
      }
      if (cancel) return std::string();
      if (std::chrono::steady_clock::now() >= deadline) {
        *timed_out = true;
        return std::string();
      }
      int r = sd_bus_process(bus_.get(), nullptr);
      if (r < 0) return NotAvailable(std::string("D-Bus connection lost: ") + std::strerror(-r));
      if (r > 0) continue;
      r = sd_bus_wait(bus_.get(), kWaitStepUsec);
      if (r < 0 && r != -EINTR) return NotAvailable(std::string("D-Bus wait failed: ") + std::strerror(-r));
    }
  }

  // After a Stop, fprintd sends a late final status; drop it so that it is not taken for the
  // next operation's answer (the connection is closed soon anyway).
  void DropPending() { events_.clear(); }

  Result<std::vector<std::string>> ListEnrolledFingers(const std::string& user) {
    return List(bus_.get(), path_, user);
  }

  static Result<std::vector<std::string>> List(sd_bus* bus, const std::string& path,
                                               const std::string& user) {
    BusError err;
    sd_bus_message* reply = nullptr;
    int r = sd_bus_call_method(bus, kService, path.c_str(), kDeviceIface, "ListEnrolledFingers", &err.e,
                               &reply, "s", user.c_str());
    Message owned(reply);
    if (r < 0) {
      if (err.name() == "net.reactivated.Fprint.Error.NoEnrolledPrints") return std::vector<std::string>{};
      return FromDbus(err, r, "ListEnrolledFingers");
    }
    char** strv = nullptr;
    if (sd_bus_message_read_strv(reply, &strv) < 0) return NotAvailable("bad ListEnrolledFingers reply");
    std::vector<std::string> out;
    for (char** p = strv; p != nullptr && *p != nullptr; ++p) {
      out.emplace_back(*p);
      free(*p);
    }
    free(strv);
    return out;
  }

 private:
  Claim() = default;
  Bus bus_;  // declared first: destroyed last, after the slot
  Slot slot_;
  std::string path_;
  std::deque<DeviceStatus> events_;
  bool claimed_ = false;
};

std::string CurrentUserName() {
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[4096];
  if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &found) == 0 && found != nullptr) return found->pw_name;
  return "";
}

std::string Sha256Hex(std::string_view s) {
  return HexEncode(crypto::Digest(crypto::Hash::kSha256, AsBytes(s)));
}

}  // namespace

Fprintd::Fprintd(FprintdOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<Fprintd>> Fprintd::Open(FprintdOptions options) {
  std::unique_ptr<Fprintd> f(new Fprintd(std::move(options)));
  sd_bus* raw = nullptr;
  if (sd_bus_open_system(&raw) < 0) return NotAvailable("cannot connect to the system D-Bus");
  Bus bus(raw);
  RETURN_IF_ERROR(Claim::DefaultDevice(bus.get()));
  return f;
}

// fprintd acts for another user only with the setusername permission; naming ourselves is the
// same as the empty name, which needs none.
std::string Fprintd::ClaimUser() const {
  if (options_.user.empty() || options_.user == CurrentUserName()) return "";
  return options_.user;
}

Result<BiometryState> Fprintd::State() {
  BiometryState state;
  state.detects_set_changes = false;
  sd_bus* raw = nullptr;
  if (sd_bus_open_system(&raw) < 0) return state;
  Bus bus(raw);
  auto path = Claim::DefaultDevice(bus.get());
  if (!path.ok()) return state;  // not available
  std::string device_name;
  {
    BusError err;
    char* name = nullptr;
    if (sd_bus_get_property_string(bus.get(), kService, path->c_str(), kDeviceIface, "name", &err.e, &name) >=
        0) {
      device_name = name;
      free(name);
    }
  }
  ASSIGN_OR_RETURN(state.enrolled, Claim::List(bus.get(), *path, ClaimUser()));
  std::sort(state.enrolled.begin(), state.enrolled.end());
  state.available = true;
  const std::string user = options_.user.empty() ? CurrentUserName() : options_.user;
  state.database_id = Sha256Hex("fprintd\n" + user + "\n" + device_name).substr(0, 32);
  std::string names;
  for (const auto& f : state.enrolled) names += f + "\n";
  state.enrolled_set_hash = Sha256Hex(names);
  return state;
}

std::vector<std::string> Fprintd::Limitations() const {
  return {
      "fprintd does not reveal fingerprint templates: a finger re-enrolled under the same name looks "
      "unchanged, so "
      "biometry-current-set keys are refused",
      "fprintd has no database identity: a reset of its stored prints is not detected unless the enrolled "
      "fingers "
      "change",
  };
}

Status Fprintd::AuthenticateSlowly(std::string_view /*prompt*/) {
  cancel_requested_ = false;
  const std::string user = ClaimUser();
  ASSIGN_OR_RETURN(auto claim, Claim::Open(user, "VerifyStatus"));
  ASSIGN_OR_RETURN(auto fingers, claim->ListEnrolledFingers(user));
  if (fingers.empty()) return NotEnrolled();
  // The virtual device (and any reader without identify) checks only the first finger for
  // "any", so a single enrolled finger is always named.
  std::string finger = "any";
  if (!options_.finger.empty()) {
    finger = options_.finger;
  } else if (fingers.size() == 1) {
    finger = fingers.front();
  }
  RETURN_IF_ERROR(claim->Call("VerifyStart", "s", finger.c_str()));
  bool timed_out = false;
  auto done = claim->WaitDone(std::chrono::steady_clock::now() + options_.verify_timeout, cancel_requested_,
                              &timed_out);
  (void)claim->Call("VerifyStop", "");
  claim->DropPending();
  if (!done.ok()) return std::move(done).error();
  const std::string& result = *done;
  if (result == "verify-match") return Ok();
  if (result.empty() && timed_out) {
    return AuthError(laerror::kSystemCancel, "no finger was presented in time").WithCause("user-canceled");
  }
  if (result.empty()) {
    return AuthError(laerror::kUserCancel, "the fingerprint prompt was canceled").WithCause("user-canceled");
  }
  if (result == "verify-no-match") {
    return AuthError(laerror::kAuthenticationFailed, "fingerprint did not match")
        .WithCause("authentication-failed");
  }
  return AuthError(laerror::kAuthenticationFailed, "fingerprint verification failed: " + result)
      .WithCause("authentication-failed")
      .WithInfo("fprintd_result", result);
}

Status Fprintd::EnrollSlowly(std::string_view finger) {
  const std::string user = ClaimUser();
  ASSIGN_OR_RETURN(auto claim, Claim::Open(user, "EnrollStatus"));
  const std::string name(finger);
  RETURN_IF_ERROR(claim->Call("EnrollStart", "s", name.c_str()));
  bool timed_out = false;
  std::atomic<bool> never{false};
  auto done = claim->WaitDone(std::chrono::steady_clock::now() + options_.verify_timeout, never, &timed_out);
  (void)claim->Call("EnrollStop", "");
  claim->DropPending();
  if (!done.ok()) return std::move(done).error();
  if (*done == "enroll-completed") return Ok();
  return AuthError(laerror::kAuthenticationFailed,
                   "fingerprint enrollment failed: " + (timed_out ? std::string("no finger in time") : *done))
      .WithCause("authentication-failed");
}

Status Fprintd::DeleteEnrolledFinger(std::string_view finger) {
  ASSIGN_OR_RETURN(auto claim, Claim::Open(ClaimUser(), nullptr));
  const std::string name(finger);
  return claim->Call("DeleteEnrolledFinger", "s", name.c_str());
}

Result<std::unique_ptr<BiometryProvider>> OpenFprintd(std::string_view user) {
  FprintdOptions options;
  options.user = std::string(user);
  ASSIGN_OR_RETURN(auto f, Fprintd::Open(std::move(options)));
  return std::unique_ptr<BiometryProvider>(std::move(f));
}

}  // namespace enclave::auth
