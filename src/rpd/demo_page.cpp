#include "rpd/demo_page.h"

namespace enclave::rpd {

const std::string& DemoPage() {
  // The page carries no server state: options come from the API and go straight to the browser,
  // only the binary fields converted between base64url and ArrayBuffers.
  static const std::string kPage = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>enclave-rpd demo</title>
<style>
body { font: 16px system-ui, sans-serif; max-width: 46em; margin: 2em auto; padding: 0 1em; color: #222; }
input, button { font: inherit; padding: .4em .7em; margin: .2em; }
#log { background: #f4f4f4; padding: 1em; white-space: pre-wrap; word-break: break-all; min-height: 8em; }
.ok { color: #0a6b2d; } .fail { color: #a11; }
</style></head>
<body>
<h1>enclave-rpd</h1>
<p>Register a passkey for a user name, then sign in with it. The page calls the server's
<code>/v1/registration</code> and <code>/v1/authentication</code> endpoints.</p>
<p><label for="username">User name</label>
<input id="username" name="username" type="text" autocomplete="username webauthn" placeholder="user name">
<button id="register" type="button">Register</button>
<button id="signin" type="button">Sign in</button></p>
<p id="status" role="status"></p>
<div id="log"></div>
<script>
"use strict";
const toB64u = buf => btoa(String.fromCharCode(...new Uint8Array(buf)))
  .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const fromB64u = s => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")
  + "===".slice((s.length + 3) % 4)), c => c.charCodeAt(0));
const log = (text, cls) => {
  const line = document.createElement("div");
  if (cls) line.className = cls;
  line.textContent = text;
  document.getElementById("log").appendChild(line);
  if (cls) { const s = document.getElementById("status"); s.textContent = text; s.className = cls; }
};
async function api(path, body) {
  const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                               body: JSON.stringify(body)});
  const doc = await r.json();
  if (!r.ok) throw new Error(path + ": HTTP " + r.status + " " + ((doc.error || {}).reason || "")
                             + ": " + ((doc.error || {}).message || ""));
  return doc;
}
const user = () => document.getElementById("username").value.trim();
const idsToBuffers = list => (list || []).forEach(c => { c.id = fromB64u(c.id); });

document.getElementById("register").addEventListener("click", async () => {
  try {
    const doc = await api("/v1/registration/options", {user: user(), display_name: user()});
    const pk = doc.publicKey || doc;
    pk.challenge = fromB64u(pk.challenge);
    pk.user.id = fromB64u(pk.user.id);
    idsToBuffers(pk.excludeCredentials);
    const c = await navigator.credentials.create({publicKey: pk});
    const result = await api("/v1/registration", {credential: {
      id: c.id, rawId: toB64u(c.rawId), type: c.type, authenticatorAttachment: c.authenticatorAttachment,
      response: {clientDataJSON: toB64u(c.response.clientDataJSON),
                 attestationObject: toB64u(c.response.attestationObject),
                 transports: c.response.getTransports ? c.response.getTransports() : []},
      clientExtensionResults: c.getClientExtensionResults()}});
    log("registered " + result.user + ": " + result.status + " (credential " + result.credential_id + ")", "ok");
  } catch (e) { log("registration failed: " + e.message, "fail"); }
});

document.getElementById("signin").addEventListener("click", async () => {
  try {
    const doc = await api("/v1/authentication/options", {user: user()});
    const pk = doc.publicKey || doc;
    pk.challenge = fromB64u(pk.challenge);
    idsToBuffers(pk.allowCredentials);
    const c = await navigator.credentials.get({publicKey: pk});
    const result = await api("/v1/authentication", {credential: {
      id: c.id, rawId: toB64u(c.rawId), type: c.type, authenticatorAttachment: c.authenticatorAttachment,
      response: {clientDataJSON: toB64u(c.response.clientDataJSON),
                 authenticatorData: toB64u(c.response.authenticatorData),
                 signature: toB64u(c.response.signature),
                 userHandle: c.response.userHandle ? toB64u(c.response.userHandle) : null},
      clientExtensionResults: c.getClientExtensionResults()}});
    log("signed in " + result.user + ": " + result.status, "ok");
  } catch (e) { log("sign-in failed: " + e.message, "fail"); }
});
</script>
</body></html>
)HTML";
  return kPage;
}

}  // namespace enclave::rpd
