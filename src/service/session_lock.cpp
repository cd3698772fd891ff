#include "service/session_lock.h"

#include <systemd/sd-bus.h>
#include <unistd.h>

#include <chrono>
#include <memory>

namespace enclave::service {
namespace {

constexpr char kLogind[] = "org.freedesktop.login1";
constexpr auto kPollInterval = std::chrono::milliseconds(500);

struct BusUnref {
  void operator()(sd_bus* b) const { sd_bus_flush_close_unref(b); }
};
using Bus = std::unique_ptr<sd_bus, BusUnref>;

struct ErrorFree {
  sd_bus_error e = SD_BUS_ERROR_NULL;
  ~ErrorFree() { sd_bus_error_free(&e); }
};

Bus OpenSystemBus() {
  sd_bus* raw = nullptr;
  if (sd_bus_open_system(&raw) < 0) return nullptr;
  return Bus(raw);
}

// The object path of the session to follow, or "" when logind cannot tell.
std::string ResolveSessionPath(sd_bus* bus, const std::string& session) {
  if (!session.empty()) return "/org/freedesktop/login1/session/" + session;
  ErrorFree err;
  sd_bus_message* reply = nullptr;
  if (sd_bus_call_method(bus, kLogind, "/org/freedesktop/login1", "org.freedesktop.login1.Manager",
                         "GetSessionByPID", &err.e, &reply, "u", static_cast<uint32_t>(::getpid())) >= 0) {
    const char* path = nullptr;
    std::string out;
    if (sd_bus_message_read(reply, "o", &path) >= 0 && path != nullptr) out = path;
    sd_bus_message_unref(reply);
    if (!out.empty()) return out;
  }
  return "";
}

}  // namespace

SessionLockWatcher::SessionLockWatcher(std::string session, std::function<void(bool)> on_change)
    : session_(std::move(session)), on_change_(std::move(on_change)) {
  if (session_.empty()) {
    if (const char* id = std::getenv("XDG_SESSION_ID"); id != nullptr) session_ = id;
  }
  thread_ = std::thread([this] { Run(); });
}

SessionLockWatcher::~SessionLockWatcher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SessionLockWatcher::Run() {
  Bus bus;
  std::string path;
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    if (!bus) {
      bus = OpenSystemBus();
      path = bus ? ResolveSessionPath(bus.get(), session_) : "";
    }
    int hint = -1;
    if (bus && !path.empty()) {
      ErrorFree err;
      int value = 0;
      if (sd_bus_get_property_trivial(bus.get(), kLogind, path.c_str(), "org.freedesktop.login1.Session",
                                      "LockedHint", &err.e, 'b', &value) >= 0) {
        hint = value ? 1 : 0;
      } else {
        bus.reset();  // reconnect (and re-resolve) next round
      }
    }
    lock.lock();
    available_ = hint >= 0;
    resolved_path_ = path;
    const bool changed = hint >= 0 && hint != locked_;
    const bool was_known = locked_ >= 0;
    if (hint >= 0) locked_ = hint;
    if (changed && (was_known || hint == 1)) {
      lock.unlock();
      on_change_(hint == 1);
      lock.lock();
    }
    // Without logind there is nothing to follow; look again now and then (a bus may appear).
    cv_.wait_for(lock, available_ ? kPollInterval : kPollInterval * 20, [this] { return stop_; });
  }
}

nlohmann::json SessionLockWatcher::Describe() const {
  std::lock_guard lock(mu_);
  nlohmann::json j = {{"source", "logind"}, {"available", available_}, {"session", resolved_path_}};
  j["locked_hint"] = locked_ < 0 ? nlohmann::json(nullptr) : nlohmann::json(locked_ == 1);
  return j;
}

}  // namespace enclave::service
