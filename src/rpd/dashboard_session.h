// The dashboard's sign-in: the admin token, given once in a form, opens a session whose id lives
// only in an HttpOnly, SameSite=Strict cookie scoped to /fleet. The server keeps the SHA-256 of the
// id (never the id) in the database with an expiry, so any of several stateless nodes on one
// database accepts it, and logout deletes the row: a copied cookie is worthless after logout.
// Forms are POSTs checked against the Origin header (with SameSite=Strict, a cross-site page can
// neither send the cookie nor forge a login).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace enclave::rpd::dashboard {

inline constexpr char kSessionCookie[] = "enclave_fleet_session";

// Where sessions are kept: by the SHA-256 of the id (32 bytes, hex), with their expiry.
class SessionStore {
 public:
  virtual ~SessionStore() = default;
  virtual Status Create(const std::string& id_hash, int64_t now_ms, int64_t expires_ms) = 0;
  // Whether a session with this hash exists and has not expired at `now_ms`.
  virtual Result<bool> Valid(const std::string& id_hash, int64_t now_ms) = 0;
  // Ends the session (no error when there is none).
  virtual Status End(const std::string& id_hash) = 0;
};

// A new session id: 32 bytes from the CSPRNG, hex.
std::string NewSessionId();
// The hash the store keeps: hex SHA-256 of the id's text.
std::string SessionHash(std::string_view session_id);
// Whether `id` has the shape NewSessionId makes (anything else is not looked up).
bool WellFormedSessionId(std::string_view id);

// The value of cookie `name` in a Cookie header ("a=1; b=2"), if present.
std::optional<std::string> CookieValue(std::string_view cookie_header, std::string_view name);
// The Set-Cookie value that opens a session, or (`session_id` empty) ends it in the browser.
std::string SetCookie(std::string_view session_id, int64_t max_age_seconds, bool secure);

// One field of an application/x-www-form-urlencoded body ('+' is a space, %XX decoded);
// nullopt when absent or badly encoded.
std::optional<std::string> FormField(std::string_view body, std::string_view name);
// The value of a query parameter of a request target ("/fleet?window=7d"), decoded as a form field.
std::optional<std::string> QueryParam(std::string_view target, std::string_view name);

// Whether a form POST comes from this server's own pages: its Origin header is one of the
// configured origins, or names the same host (and port) as the Host header. A missing Origin is
// refused: every browser that honours SameSite sends it on a POST.
bool SameOrigin(std::string_view origin, std::string_view host, const std::vector<std::string>& allowed);

}  // namespace enclave::rpd::dashboard
