#include "service/inject.h"

#include <fcntl.h>
#include <unistd.h>

#include "crypto/ec.h"

namespace enclave::service {
namespace {

Error Bad(const std::string& what) { return OSStatusError(errsec::kParam, what).WithCause("bad-parameter"); }

Result<keychain::KeyItem> ItemByKid(EnclaveImpl& enclave, const nlohmann::json& args) {
  if (!args.contains("kid") || !args["kid"].is_string()) return Bad("this fault needs --kid");
  keychain::ItemQuery q;
  q.kid = args["kid"].get<std::string>();
  ASSIGN_OR_RETURN(auto items, enclave.keychain().Find(q));
  return items.front();
}

// Overwrites one page in the middle of the database file with random bytes, after moving
// everything from the WAL into the file, and drops the connection's cached pages.
Status CorruptDatabasePage(EnclaveImpl& enclave) {
  RETURN_IF_ERROR(enclave.keychain().ExecForTesting("PRAGMA wal_checkpoint(TRUNCATE)"));
  const auto path = enclave.home() / "keychain.db";
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return OSStatusError(errsec::kIO, "cannot open the database file").WithCause("database-io");
  const off_t size = ::lseek(fd, 0, SEEK_END);
  const off_t page = 4096;
  const off_t pages = size / page;
  Status st;
  if (pages < 2) {
    st = Bad("the database is too small to corrupt a page other than the header");
  } else {
    const Bytes garbage = crypto::RandomBytes(static_cast<size_t>(page));
    const off_t target = (pages / 2 < 1 ? 1 : pages / 2) * page;
    if (::pwrite(fd, garbage.data(), garbage.size(), target) != static_cast<ssize_t>(garbage.size())) {
      st = OSStatusError(errsec::kIO, "cannot write the database file").WithCause("database-io");
    }
  }
  ::fsync(fd);
  ::close(fd);
  RETURN_IF_ERROR(st);
  return enclave.keychain().ExecForTesting("PRAGMA shrink_memory");
}

}  // namespace

Result<nlohmann::json> InjectFault(EnclaveImpl& enclave, SessionImpl& session, const nlohmann::json& args) {
  (void)session;
  if (!enclave.debug()) {
    return OSStatusError(
               errsec::kMissingEntitlement,
               "fault injection is refused: start the daemon with --debug (enclave daemon start --debug)")
        .WithCause("debug-disabled");
  }
  if (!args.is_object() || !args.contains("fault") || !args["fault"].is_string())
    return Bad("missing fault name");
  const std::string fault = args["fault"];
  std::vector<std::string> kids;
  if (fault == "biometry-reset" || fault == "enrollment-change") {
    ASSIGN_OR_RETURN(auto sim, enclave.simulator());
    if (fault == "biometry-reset") {
      RETURN_IF_ERROR(sim->Reset());
    } else {
      RETURN_IF_ERROR(sim->Enroll("injected-" + HexEncode(crypto::RandomBytes(4))));
    }
    enclave.NoteBiometryChange();
  } else if (fault == "class-key-corrupt") {
    std::string code = args.value("class", "aku");
    std::optional<keybag::ProtectionClass> pclass;
    for (auto c : keybag::AllProtectionClasses()) {
      if (keybag::PlatformCode(c) == code || keybag::AccessibleName(c) == code) pclass = c;
    }
    if (!pclass) return Bad("unknown protection class '" + code + "'");
    RETURN_IF_ERROR(enclave.keybag().CorruptClassKeyForTesting(*pclass));
    keychain::ItemQuery q;
    q.accessible = keybag::PlatformCode(*pclass);
    q.match_all = true;
    if (auto items = enclave.keychain().Find(q); items.ok()) {
      for (const auto& i : *items) kids.push_back(i.kid);
    }
    enclave.RecordEvent("class-key-damaged", "class-key-lost", kids,
                        {{"class", keybag::PlatformCode(*pclass)}});
  } else if (fault == "blob-flip" || fault == "blob-missing") {
    ASSIGN_OR_RETURN(keychain::KeyItem item, ItemByKid(enclave, args));
    Bytes blob = item.sealed_blob;
    if (fault == "blob-missing") {
      blob.clear();
    } else if (!blob.empty()) {
      blob[blob.size() / 2] ^= 0x5a;
    }
    RETURN_IF_ERROR(enclave.keychain().SetSealedBlobForTesting(item.persistent_id, blob));
    kids.push_back(item.kid);
  } else if (fault == "passcode-removal") {
    // As if the passcode were removed by someone who had it: needs the keybag unlocked.
    keychain::ItemQuery q;
    q.accessible = keybag::PlatformCode(keybag::ProtectionClass::kWhenPasscodeSetThisDeviceOnly);
    q.match_all = true;
    RETURN_IF_ERROR(enclave.keybag().ForgetPasscodeForTesting());
    if (auto items = enclave.keychain().Find(q); items.ok()) {
      for (const auto& i : *items) kids.push_back(i.kid);
    }
    RETURN_IF_ERROR(enclave.DestroyPasscodeBoundKeys());
  } else if (fault == "db-page-corrupt") {
    RETURN_IF_ERROR(CorruptDatabasePage(enclave));
  } else {
    return Bad(
        "unknown fault '" + fault +
        "' (biometry-reset, enrollment-change, passcode-removal, class-key-corrupt, blob-flip, blob-missing, "
        "db-page-corrupt)");
  }
  // Blob and database damage are not device events, but a support bundle must show that they
  // were injected rather than found.
  if (fault == "blob-flip" || fault == "blob-missing" || fault == "db-page-corrupt") {
    const char* cause = fault == "blob-flip"      ? "key-blob-corrupt"
                        : fault == "blob-missing" ? "key-blob-missing"
                                                  : "database-corrupt";
    enclave.RecordEvent("fault-injected", cause, kids, {{"fault", fault}});
  }
  return nlohmann::json{{"fault", fault}, {"kids", kids}};
}

}  // namespace enclave::service

#if ENCLAVE_HAVE_TPM2
#include "token/tpm2/tpm2_token.h"
#endif

namespace enclave::service {

Result<nlohmann::json> AttestKey(EnclaveImpl& enclave, SessionImpl& session, const nlohmann::json& args) {
  ASSIGN_OR_RETURN(KeyQuery query, KeyQueryFromJson(args.value("query", nlohmann::json::object())));
  ASSIGN_OR_RETURN(keychain::KeyItem item, session.FindOne(query));
  if (item.token != "tpm2") {
    return OSStatusError(errsec::kParam,
                         enclave.Describe(item) +
                             ": key attestation needs a key held by a TPM (token tpm2); this key's "
                             "token is " +
                             item.token)
        .WithCause("unsupported-algorithm");
  }
#if ENCLAVE_HAVE_TPM2
  Bytes nonce;
  if (args.contains("nonce_hex") && args["nonce_hex"].is_string()) {
    auto n = HexDecode(args["nonce_hex"].get<std::string>());
    if (!n || n->size() > 32)
      return OSStatusError(errsec::kParam, "bad nonce (hex, at most 32 bytes)").WithCause("bad-parameter");
    nonce = *n;
  }
  RETURN_IF_ERROR(enclave.CheckUsable(item, "attest key"));
  ASSIGN_OR_RETURN(SecureBytes blob, enclave.UnsealTokenBlob(item, "attest key"));
  ASSIGN_OR_RETURN(token::Token * token, enclave.GetToken("tpm2"));
  auto statement = token::tpm2::AttestKeySlowly(*token, blob, nonce);
  if (!statement.ok()) return enclave.TokenRefusal(item, "attest key", statement.error());
  nlohmann::json j = statement->ToJson();
  j["kid"] = item.kid;
  return j;
#else
  return OSStatusError(errsec::kUnimplemented, "this build has no tpm2 token").WithCause("unimplemented");
#endif
}

}  // namespace enclave::service
