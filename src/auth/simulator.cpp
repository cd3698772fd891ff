// The biometry simulator: a phone simulator's "enrolled / matching / non-matching" toggles,
// persisted in a JSON file in the enclave home so that they survive daemon restarts. Enabled
// only by explicit configuration.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

#include "auth/provider.h"
#include "crypto/ec.h"

namespace enclave::auth {
namespace {

std::string NewId() { return HexEncode(crypto::RandomBytes(16)); }

const char* ResultName(BiometrySimulator::NextResult r) {
  switch (r) {
    case BiometrySimulator::NextResult::kMatch:
      return "match";
    case BiometrySimulator::NextResult::kNoMatch:
      return "no-match";
    case BiometrySimulator::NextResult::kCancel:
      return "cancel";
    case BiometrySimulator::NextResult::kLockout:
      return "lockout";
  }
  return "match";
}

struct Finger {
  std::string name;
  std::string template_id;
};

struct SimState {
  std::string database_id;
  std::vector<Finger> fingers;
  std::string next = "match";  // match | no-match | cancel
  bool locked_out = false;
  std::string last_prompt;
  int64_t prompts = 0;

  std::string SetHash() const {
    std::vector<std::string> ids;
    for (const auto& f : fingers) ids.push_back(f.template_id);
    std::sort(ids.begin(), ids.end());
    std::string joined;
    for (const auto& id : ids) joined += id + "\n";
    return HexEncode(crypto::Digest(crypto::Hash::kSha256, AsBytes(joined)));
  }

  nlohmann::json ToJson() const {
    nlohmann::json fj = nlohmann::json::array();
    for (const auto& f : fingers) fj.push_back({{"name", f.name}, {"template_id", f.template_id}});
    return {{"version", 1},      {"database_id", database_id}, {"fingers", fj},
            {"next", next},      {"locked_out", locked_out},   {"last_prompt", last_prompt},
            {"prompts", prompts}};
  }

  static Result<SimState> FromJson(const nlohmann::json& j) {
    auto corrupt = [] {
      return OSStatusError(errsec::kDecode, "the biometry simulator's state file is corrupt")
          .WithCause("database-corrupt");
    };
    if (!j.is_object() || j.value("version", 0) != 1 || !j.contains("database_id") ||
        !j["database_id"].is_string() || !j.contains("fingers") || !j["fingers"].is_array()) {
      return corrupt();
    }
    SimState s;
    s.database_id = j["database_id"].get<std::string>();
    for (const auto& f : j["fingers"]) {
      if (!f.is_object() || !f.contains("name") || !f["name"].is_string() || !f.contains("template_id") ||
          !f["template_id"].is_string()) {
        return corrupt();
      }
      s.fingers.push_back({f["name"].get<std::string>(), f["template_id"].get<std::string>()});
    }
    if (j.contains("next") && j["next"].is_string()) s.next = j["next"].get<std::string>();
    if (s.next != "match" && s.next != "no-match" && s.next != "cancel") return corrupt();
    if (j.contains("locked_out") && j["locked_out"].is_boolean()) s.locked_out = j["locked_out"].get<bool>();
    if (j.contains("last_prompt") && j["last_prompt"].is_string())
      s.last_prompt = j["last_prompt"].get<std::string>();
    if (j.contains("prompts") && j["prompts"].is_number_integer()) s.prompts = j["prompts"].get<int64_t>();
    return s;
  }
};

Error IoError(const std::string& what, const std::string& path) {
  return OSStatusError(errsec::kIO, what + " " + path + ": " + std::strerror(errno)).WithCause("database-io");
}

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

class Simulator final : public BiometrySimulator {
 public:
  explicit Simulator(std::string path) : path_(std::move(path)) {}

  Status Init() {
    std::lock_guard lock(mu_);
    if (::access(path_.c_str(), F_OK) == 0) {
      auto existing = Load();
      if (!existing.ok()) return std::move(existing).error();
      return Ok();
    }
    SimState s;
    s.database_id = NewId();
    return Save(s);
  }

  std::string_view name() const override { return "simulator"; }

  Result<BiometryState> State() override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(SimState s, Load());
    BiometryState out;
    out.available = true;
    for (const auto& f : s.fingers) out.enrolled.push_back(f.name);
    out.database_id = s.database_id;
    out.enrolled_set_hash = s.SetHash();
    out.locked_out = s.locked_out;
    out.detects_set_changes = true;
    return out;
  }

  Status AuthenticateSlowly(std::string_view prompt) override {
    std::lock_guard lock(mu_);
    // Re-read every time: `enclave biometry …` may have changed the answer since the last prompt.
    ASSIGN_OR_RETURN(SimState s, Load());
    if (s.fingers.empty()) {
      return AuthError(laerror::kBiometryNotEnrolled, "no biometry is enrolled")
          .WithCause("biometry-not-enrolled");
    }
    if (s.locked_out) {
      return AuthError(laerror::kBiometryLockout, "biometry is locked out (too many failed attempts)")
          .WithCause("biometry-lockout");
    }
    // The prompt is what a user would have seen; keeping it lets tests check it was shown.
    s.last_prompt = std::string(prompt);
    s.prompts++;
    RETURN_IF_ERROR(Save(s));
    if (s.next == "no-match") {
      return AuthError(laerror::kAuthenticationFailed, "biometry did not match")
          .WithCause("authentication-failed");
    }
    if (s.next == "cancel") {
      return AuthError(laerror::kUserCancel, "the user canceled the biometric prompt")
          .WithCause("user-canceled");
    }
    return Ok();
  }

  std::vector<std::string> Limitations() const override { return {}; }

  Status Enroll(std::string_view finger) override {
    if (finger.empty())
      return OSStatusError(errsec::kParam, "a finger name is needed").WithCause("bad-parameter");
    return Mutate([&](SimState& s) -> Status {
      // Re-enrolling a name is a new template: the enrolled set changes, as on a real reader.
      std::erase_if(s.fingers, [&](const Finger& f) { return f.name == finger; });
      s.fingers.push_back({std::string(finger), NewId()});
      return Ok();
    });
  }

  Status Unenroll(std::string_view finger) override {
    return Mutate([&](SimState& s) -> Status {
      if (std::erase_if(s.fingers, [&](const Finger& f) { return f.name == finger; }) == 0) {
        return OSStatusError(errsec::kItemNotFound, "finger '" + std::string(finger) + "' is not enrolled")
            .WithCause("item-not-found");
      }
      return Ok();
    });
  }

  Status Reset() override {
    return Mutate([](SimState& s) -> Status {
      s = SimState{};
      s.database_id = NewId();
      return Ok();
    });
  }

  Status SetNextResult(NextResult r) override {
    return Mutate([r](SimState& s) -> Status {
      if (r == NextResult::kLockout) {
        s.locked_out = true;
      } else {
        s.locked_out = false;
        s.next = ResultName(r);
      }
      return Ok();
    });
  }

  nlohmann::json Describe() override {
    std::lock_guard lock(mu_);
    auto s = Load();
    if (!s.ok()) return {{"provider", "simulator"}, {"error", s.error().ToJson()}};
    nlohmann::json fingers = nlohmann::json::array();
    for (const auto& f : s->fingers) fingers.push_back(f.name);
    return {{"provider", "simulator"},
            {"available", true},
            {"enrolled", fingers},
            {"database_id", s->database_id},
            {"enrolled_set_hash", s->SetHash()},
            {"next", s->locked_out ? "lockout" : s->next},
            {"locked_out", s->locked_out},
            {"last_prompt", s->last_prompt},
            {"prompts", s->prompts}};
  }

 private:
  template <typename F>
  Status Mutate(F&& change) {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(SimState s, Load());
    RETURN_IF_ERROR(change(s));
    return Save(s);
  }

  Result<SimState> Load() const {
    std::ifstream in(path_);
    if (!in) return IoError("cannot read the biometry simulator state", path_);
    std::stringstream ss;
    ss << in.rdbuf();
    auto j = nlohmann::json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
    return SimState::FromJson(j);
  }

  // Write to a temporary file, fsync, rename: a crash leaves the old or the new state.
  Status Save(const SimState& s) const {
    const std::string tmp = path_ + ".tmp";
    const std::string text = s.ToJson().dump(2) + "\n";
    {
      FdCloser fd{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)};
      if (fd.fd < 0) return IoError("cannot write", tmp);
      ::fchmod(fd.fd, 0600);
      size_t off = 0;
      while (off < text.size()) {
        ssize_t n = ::write(fd.fd, text.data() + off, text.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return IoError("cannot write", tmp);
        off += static_cast<size_t>(n);
      }
      if (::fsync(fd.fd) != 0) return IoError("cannot sync", tmp);
    }
    if (::rename(tmp.c_str(), path_.c_str()) != 0) return IoError("cannot replace", path_);
    return Ok();
  }

  const std::string path_;
  mutable std::mutex mu_;
};

}  // namespace

Result<std::unique_ptr<BiometrySimulator>> BiometrySimulator::Open(const std::string& state_file) {
  auto sim = std::make_unique<Simulator>(state_file);
  RETURN_IF_ERROR(sim->Init());
  return std::unique_ptr<BiometrySimulator>(std::move(sim));
}

}  // namespace enclave::auth
