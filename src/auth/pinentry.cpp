// Passcode entry through pinentry, spoken to over the Assuan protocol with libassuan, as
// gpg-agent does. The operation prompt is shown as pinentry's description.
//
// libassuan and libgpg-error are opened on the first prompt, not when a process starts: most
// processes that link this layer never prompt (the CLI above all, whose every command is a new
// process), and two libraries loaded and initialised at start-up cost each of them.
#include <assuan.h>
#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "auth/provider.h"
#include "common/dynamic_library.h"

namespace enclave::auth {
namespace {

// The few entry points used, resolved once; null when the libraries cannot be opened.
struct AssuanLibrary {
  decltype(&::assuan_new) create = nullptr;
  decltype(&::assuan_release) release = nullptr;
  decltype(&::assuan_pipe_connect) pipe_connect = nullptr;
  decltype(&::assuan_transact) transact = nullptr;
  decltype(&::gpg_strerror) strerror = nullptr;
};

const AssuanLibrary* Assuan() {
  static const AssuanLibrary* const loaded = []() -> const AssuanLibrary* {
    // The sonames the build linked against (Debian: libassuan0, libgpg-error0); never closed.
    void* assuan = ::dlopen("libassuan.so.0", RTLD_NOW | RTLD_LOCAL);
    void* gpg_error = ::dlopen("libgpg-error.so.0", RTLD_NOW | RTLD_LOCAL);
    if (assuan == nullptr || gpg_error == nullptr) return nullptr;
    static AssuanLibrary lib;
    const bool all = ResolveSymbol(assuan, "assuan_new", &lib.create) &&
                     ResolveSymbol(assuan, "assuan_release", &lib.release) &&
                     ResolveSymbol(assuan, "assuan_pipe_connect", &lib.pipe_connect) &&
                     ResolveSymbol(assuan, "assuan_transact", &lib.transact) &&
                     ResolveSymbol(gpg_error, "gpg_strerror", &lib.strerror);
    return all ? &lib : nullptr;
  }();
  return loaded;
}

struct AssuanDeleter {
  void operator()(assuan_context_t ctx) const { Assuan()->release(ctx); }
};
using AssuanContext = std::unique_ptr<std::remove_pointer_t<assuan_context_t>, AssuanDeleter>;

// Assuan lines are limited to ASSUAN_LINELENGTH (1000) bytes including the command.
constexpr size_t kMaxArgument = 900;

std::string PercentEscape(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (out.size() >= kMaxArgument) break;
    if (c == '%' || c < 0x20 || c == 0x7f) {
      static const char kHex[] = "0123456789ABCDEF";
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// $PINENTRY_PROGRAM or `pinentry`, resolved through PATH (libassuan execs without a search).
std::string FindPinentry() {
  const char* configured = std::getenv("PINENTRY_PROGRAM");
  std::string program = (configured != nullptr && *configured != '\0') ? configured : "pinentry";
  if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0 ? program : "";
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    size_t colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

Error PinentryFailed(const std::string& what, gpg_error_t rc) {
  return OSStatusError(errsec::kInteractionNotAllowed,
                       "pinentry " + what + " failed: " + Assuan()->strerror(rc))
      .WithCause("interaction-not-allowed");
}

bool IsCancel(gpg_error_t rc) {
  const auto code = gpg_err_code(rc);
  return code == GPG_ERR_CANCELED || code == GPG_ERR_FULLY_CANCELED;
}

class Pinentry {
 public:
  Status Connect(const std::string& program) {
    if (Assuan() == nullptr) {
      return OSStatusError(
                 errsec::kInteractionNotAllowed,
                 "pinentry cannot be used: libassuan.so.0 and libgpg-error.so.0 could not be loaded "
                 "(Debian: libassuan0, libgpg-error0)")
          .WithCause("interaction-not-allowed");
    }
    assuan_context_t raw = nullptr;
    if (gpg_error_t rc = Assuan()->create(&raw); rc != 0) return PinentryFailed("setup", rc);
    ctx_.reset(raw);
    const char* argv[] = {program.c_str(), nullptr};
    // Keep stderr so that pinentry can report its own problems to the user's terminal.
    assuan_fd_t keep[] = {STDERR_FILENO, ASSUAN_INVALID_FD};
    if (gpg_error_t rc = Assuan()->pipe_connect(ctx_.get(), program.c_str(), argv, keep, nullptr, nullptr, 0);
        rc != 0) {
      return PinentryFailed("start of " + program, rc);
    }
    // Curses pinentries need to know the terminal; graphical ones ignore these.
    if (isatty(STDIN_FILENO)) {
      if (const char* tty = ttyname(STDIN_FILENO)) (void)Command(std::string("OPTION ttyname=") + tty);
      if (const char* term = std::getenv("TERM")) (void)Command(std::string("OPTION ttytype=") + term);
    }
    return Ok();
  }

  Status Command(const std::string& line) {
    gpg_error_t rc =
        Assuan()->transact(ctx_.get(), line.c_str(), nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
    if (rc == 0) return Ok();
    if (IsCancel(rc)) return Canceled();
    return PinentryFailed(line.substr(0, line.find(' ')), rc);
  }

  Result<SecureBytes> GetPin() {
    SecureBytes pin;
    // libassuan hands over D lines already unescaped; the pin may come in several lines.
    auto on_data = [](void* opaque, const void* buffer, size_t length) -> gpg_error_t {
      auto* out = static_cast<SecureBytes*>(opaque);
      SecureBytes joined(out->size() + length);
      std::copy(out->data(), out->data() + out->size(), joined.data());
      std::copy(static_cast<const uint8_t*>(buffer), static_cast<const uint8_t*>(buffer) + length,
                joined.data() + out->size());
      *out = std::move(joined);
      return 0;
    };
    gpg_error_t rc =
        Assuan()->transact(ctx_.get(), "GETPIN", on_data, &pin, nullptr, nullptr, nullptr, nullptr);
    if (rc == 0) return pin;
    if (IsCancel(rc)) return Canceled();
    return PinentryFailed("GETPIN", rc);
  }

 private:
  static Error Canceled() {
    return AuthError(laerror::kUserCancel, "the user canceled the passcode entry").WithCause("user-canceled");
  }

  AssuanContext ctx_;
};

}  // namespace

Result<SecureBytes> AskPasscodeWithPinentry(std::string_view description, std::string_view prompt,
                                            bool confirm) {
  const std::string program = FindPinentry();
  if (program.empty()) {
    return OSStatusError(
               errsec::kInteractionNotAllowed,
               "no pinentry program (install pinentry or set PINENTRY_PROGRAM; scripts can pass the "
               "passcode on standard input)")
        .WithCause("interaction-not-allowed");
  }
  Pinentry pe;
  RETURN_IF_ERROR(pe.Connect(program));
  RETURN_IF_ERROR(pe.Command("SETDESC " + PercentEscape(description)));
  RETURN_IF_ERROR(pe.Command("SETPROMPT " + PercentEscape(prompt)));
  RETURN_IF_ERROR(pe.Command("SETTITLE enclave"));
  constexpr int kConfirmAttempts = 3;
  for (int attempt = 0;; ++attempt) {
    ASSIGN_OR_RETURN(SecureBytes first, pe.GetPin());
    if (!confirm) return first;
    RETURN_IF_ERROR(pe.Command("SETPROMPT " + PercentEscape("Repeat: " + std::string(prompt))));
    ASSIGN_OR_RETURN(SecureBytes second, pe.GetPin());
    if (first == second) return first;
    if (attempt + 1 >= kConfirmAttempts) {
      return AuthError(laerror::kAuthenticationFailed, "the two passcode entries did not match")
          .WithCause("authentication-failed");
    }
    RETURN_IF_ERROR(pe.Command("SETERROR " + PercentEscape("The entries did not match; try again.")));
    RETURN_IF_ERROR(pe.Command("SETPROMPT " + PercentEscape(prompt)));
  }
}

}  // namespace enclave::auth
