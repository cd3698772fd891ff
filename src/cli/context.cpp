#include "cli/context.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>

#include "common/error_catalog.h"
#include "common/explain.h"

namespace enclave::cli {

Error Context::NoEnclave() {
  return OSStatusError(errsec::kNotAvailable, "no connection to the enclave is configured")
      .WithCause("daemon-unavailable");
}

int Context::Print(const nlohmann::json& doc, const std::string& human) {
  if (json) {
    *env.out << doc.dump(2) << "\n";
  } else {
    *env.out << (human.empty() ? HumanJson(doc) : human);
  }
  return 0;
}

int Context::Fail(const Error& e) {
  if (json) {
    nlohmann::json doc{{"error", e.ToJson()}};
    if (e.prompted.has_value()) doc["prompted"] = *e.prompted;
    *env.out << doc.dump(2) << "\n";
    return 1;
  }
  std::ostream& err = *env.err;
  err << "enclave: " << e.domain << " " << e.code;
  if (const auto* entry = catalog::FindCode(e.domain, e.code)) err << " (" << entry->name << ")";
  err << ": " << e.description << "\n";
  for (const auto& [k, v] : e.user_info.items()) {
    if (k == "underlying") continue;
    err << "  " << k << "=" << (v.is_string() ? v.get<std::string>() : v.dump()) << "\n";
  }
  for (auto inner = e.underlying; inner; inner = inner->underlying) {
    err << "  underlying: " << inner->ToString() << "\n";
  }
  const std::string cause = e.effective_cause();
  err << "  cause: " << cause << " (" << e.permanence() << ")\n";
  const std::string remedy = e.remedy();
  const std::string text = explain::RemedyText(remedy);
  err << "  remedy: " << remedy << (text.empty() ? "" : " — " + text) << "\n";
  if (e.prompted.has_value()) err << "  prompted: " << (*e.prompted ? "yes" : "no") << "\n";
  return 1;
}

std::string HumanJson(const nlohmann::json& doc, int indent) {
  const std::string pad(static_cast<size_t>(indent) * 2, ' ');
  std::string s;
  auto scalar = [](const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
  if (doc.is_object()) {
    for (const auto& [k, v] : doc.items()) {
      if (v.is_object() && !v.empty()) {
        s += pad + k + ":\n" + HumanJson(v, indent + 1);
      } else if (v.is_array() && !v.empty() && (v.front().is_object() || v.front().is_array())) {
        s += pad + k + ":\n";
        for (const auto& item : v) s += pad + "  -\n" + HumanJson(item, indent + 2);
      } else if (v.is_array()) {
        std::string list;
        for (const auto& item : v) list += (list.empty() ? "" : ", ") + scalar(item);
        s += pad + k + ": " + list + "\n";
      } else {
        s += pad + k + ": " + scalar(v) + "\n";
      }
    }
  } else {
    s += pad + scalar(doc) + "\n";
  }
  return s;
}

namespace {

Error InputError(const std::string& path, const std::string& why) {
  return OSStatusError(errsec::kParam, "cannot read '" + path + "': " + why).WithCause("bad-parameter");
}

// Opens an input file for reading; a directory is the caller's mistake, not ours.
Result<int> OpenInput(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return InputError(path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return InputError(path, "it is a directory");
  }
  return fd;
}

// Reads up to `len` bytes, retrying on EINTR; -1 with errno on failure.
ssize_t ReadSome(int fd, uint8_t* buf, size_t len) {
  for (;;) {
    const ssize_t n = ::read(fd, buf, len);
    if (n >= 0 || errno != EINTR) return n;
  }
}

class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() { ::close(fd_); }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

}  // namespace

Result<Bytes> ReadFileBytes(const std::string& path, size_t limit) {
  ASSIGN_OR_RETURN(const int fd, OpenInput(path));
  FdCloser closer(fd);
  Bytes data;
  uint8_t buf[65536];
  for (;;) {
    const ssize_t n = ReadSome(fd, buf, sizeof buf);
    if (n < 0) return InputError(path, std::strerror(errno));
    if (n == 0) return data;
    if (data.size() + static_cast<size_t>(n) > limit) {
      return OSStatusError(errsec::kParam, "'" + path + "' is larger than one request may carry (" +
                                               std::to_string(limit) +
                                               " bytes); message signature algorithms take input of any size")
          .WithCause("input-too-large");
    }
    data.insert(data.end(), buf, buf + n);
  }
}

Result<Bytes> HashFile(const std::string& path, crypto::Hash hash) {
  ASSIGN_OR_RETURN(auto input, ReadOrHashFile(path, hash, 0));
  return std::move(input.bytes);
}

Result<MessageInput> ReadOrHashFile(const std::string& path, crypto::Hash hash, size_t keep_limit) {
  ASSIGN_OR_RETURN(const int fd, OpenInput(path));
  FdCloser closer(fd);
  MessageInput input;
  uint8_t buf[65536];
  std::optional<crypto::DigestStream> digest;
  for (;;) {
    const ssize_t n = ReadSome(fd, buf, sizeof buf);
    if (n < 0) return InputError(path, std::strerror(errno));
    if (n == 0) break;
    const ByteView chunk(buf, static_cast<size_t>(n));
    if (!digest && input.bytes.size() + chunk.size() <= keep_limit) {
      input.bytes.insert(input.bytes.end(), chunk.begin(), chunk.end());
      continue;
    }
    if (!digest) {
      digest.emplace(hash);
      digest->Update(input.bytes);
      input.bytes.clear();
    }
    digest->Update(chunk);
  }
  if (!digest && keep_limit > 0) return input;
  if (!digest) digest.emplace(hash);
  input.hashed = true;
  input.bytes = digest->Finish();
  return input;
}

Status WriteFileBytes(const std::string& path, ByteView data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return OSStatusError(errsec::kIO, "cannot write '" + path + "'").WithCause("bad-parameter");
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  f.close();
  if (!f) return OSStatusError(errsec::kIO, "error writing '" + path + "'").WithCause("bad-parameter");
  return Ok();
}

Result<SecureBytes> ReadSecretLine(Environment& env, const std::string& what) {
  if (env.in == nullptr) return OSStatusError(errsec::kParam, "no standard input for the " + what);
  std::string line;
  if (!std::getline(*env.in, line)) {
    return OSStatusError(errsec::kParam, "expected the " + what + " on standard input")
        .WithCause("bad-parameter");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  SecureBytes secret(AsBytes(line));
  OPENSSL_cleanse(line.data(), line.size());
  return secret;
}

void Selector::AddTo(CLI::App* cmd) {
  options = {
      cmd->add_option("--label", label, "select by label"),
      cmd->add_option("--application-label", application_label, "select by application label (text)"),
      cmd->add_option("--application-label-hex", application_label_hex, "select by application label (hex)"),
      cmd->add_option("--application-tag", application_tag, "select by application tag (text)"),
      cmd->add_option("--application-tag-hex", application_tag_hex, "select by application tag (hex)"),
      cmd->add_option("--kid", kid, "select by key id (16 hex digits)"),
      cmd->add_option("--token", token, "select by token: soft | tpm2"),
      cmd->add_option("--access-group", access_group, "select by access group"),
  };
  options[1]->excludes(options[2]);
  options[3]->excludes(options[4]);
}

bool Selector::empty() const {
  for (const auto* o : options) {
    if (o->count() > 0) return false;
  }
  return true;
}

Result<std::optional<Bytes>> TextOrHex(const CLI::Option* text_opt, const std::string& text,
                                       const CLI::Option* hex_opt, const std::string& hex,
                                       const std::string& what) {
  if (text_opt != nullptr && text_opt->count() > 0) return std::optional<Bytes>(ToBytes(text));
  if (hex_opt != nullptr && hex_opt->count() > 0) {
    auto b = HexDecode(hex);
    if (!b) return OSStatusError(errsec::kParam, what + ": not a hex string").WithCause("bad-parameter");
    return std::optional<Bytes>(std::move(*b));
  }
  return std::optional<Bytes>();
}

Result<KeyQuery> Selector::ToQuery(bool match_all) const {
  KeyQuery q;
  q.match_all = match_all;
  auto given = [&](size_t i) { return options.size() > i && options[i]->count() > 0; };
  if (given(0)) q.label = label;
  ASSIGN_OR_RETURN(q.application_label, TextOrHex(options[1], application_label, options[2],
                                                  application_label_hex, "--application-label-hex"));
  ASSIGN_OR_RETURN(q.application_tag, TextOrHex(options[3], application_tag, options[4], application_tag_hex,
                                                "--application-tag-hex"));
  if (given(5)) q.kid = kid;
  if (given(6)) q.token = token;
  if (given(7)) q.access_group = access_group;
  return q;
}

std::string NeededSecret(const Error& e) {
  if (e.domain != domain::kOSStatus || e.code != errsec::kAuthNeeded || !e.user_info.is_object()) return "";
  const std::string needs = e.user_info.value("needs", "");
  return needs == "passcode" || needs == "application-password" ? needs : "";
}

Status AskSecretInto(Context& ctx, AuthOptions& auth, const std::string& needs, bool from_stdin) {
  const bool app_password = needs == "application-password";
  SecureBytes secret;
  if (from_stdin) {
    ASSIGN_OR_RETURN(secret, ReadSecretLine(ctx.env, app_password ? "application password" : "passcode"));
  } else if (!ctx.env.ask_passcode) {
    return OSStatusError(errsec::kInteractionNotAllowed,
                         "a " + needs + " is needed and no way to ask for it is available")
        .WithCause("interaction-not-allowed");
  } else {
    std::string description = auth.operation_prompt;
    if (description.empty()) {
      description = app_password ? "Enter the key's application password."
                                 : "Enter the device passcode to use the key.";
    }
    ASSIGN_OR_RETURN(secret,
                     ctx.env.ask_passcode(description, app_password ? "Password:" : "Passcode:", false));
  }
  (app_password ? auth.application_password : auth.passcode) = std::move(secret);
  return Ok();
}

}  // namespace enclave::cli
