#include "daemon/dispatch.h"

#include "daemon/codec.h"

namespace enclave::daemon {
namespace {

void NoteQuery(const wire::KeyQuery& q, RequestLogEntry* log) {
  if (q.has_kid()) log->kids.push_back(q.kid());
}

void NoteKid(const std::string& kid, RequestLogEntry* log) {
  if (kid.empty()) return;
  for (const auto& k : log->kids)
    if (k == kid) return;
  log->kids.push_back(kid);
}

std::vector<SecureBytes> Secrets(const wire::AdminRequest& admin) {
  std::vector<SecureBytes> secrets;
  secrets.reserve(static_cast<size_t>(admin.secrets_size()));
  for (const auto& s : admin.secrets()) secrets.emplace_back(AsBytes(s));
  return secrets;
}

// Sets the response's result with `fill` on success, else its error.
template <typename T, typename Fill>
void Reply(Result<T> result, wire::Response* response, RequestLogEntry* log, Fill fill) {
  if (!result.ok()) {
    log->error = result.error();
    ToWire(result.error(), response->mutable_error());
    return;
  }
  fill(result.value());
}

wire::Response Serve(Api& api, const wire::Request& r, RequestLogEntry* log) {
  wire::Response out;
  out.set_id(r.id());
  auto operation = [&](const OperationResult& op) {
    NoteKid(op.kid, log);
    ToWire(op, out.mutable_operation());
  };
  switch (r.op_case()) {
    case wire::Request::kCreateKey:
      Reply(api.CreateKey(FromWire(r.create_key().spec())), &out, log, [&](const KeyInfo& k) {
        NoteKid(k.kid, log);
        ToWire(k, out.mutable_key());
      });
      break;
    case wire::Request::kFindKeys:
      NoteQuery(r.find_keys().query(), log);
      Reply(api.FindKeys(FromWire(r.find_keys().query())), &out, log, [&](const std::vector<KeyInfo>& keys) {
        auto* list = out.mutable_keys();
        for (const auto& k : keys) {
          // Enough kids to follow a key through the log, not an inventory.
          if (log->kids.size() < 16) NoteKid(k.kid, log);
          ToWire(k, list->add_keys());
        }
      });
      break;
    case wire::Request::kUpdateKeys:
      NoteQuery(r.update_keys().query(), log);
      Reply(api.UpdateKeys(FromWire(r.update_keys().query()), FromWire(r.update_keys().changes())), &out, log,
            [&](int n) { out.mutable_count()->set_count(n); });
      break;
    case wire::Request::kDeleteKeys:
      NoteQuery(r.delete_keys().query(), log);
      Reply(api.DeleteKeys(FromWire(r.delete_keys().query())), &out, log,
            [&](int n) { out.mutable_count()->set_count(n); });
      break;
    case wire::Request::kSign: {
      const auto& s = r.sign();
      NoteQuery(s.key(), log);
      const Bytes input(s.input().begin(), s.input().end());
      Reply(api.Sign(FromWire(s.key()), s.algorithm(), input, FromWire(s.auth())), &out, log, operation);
      break;
    }
    case wire::Request::kDecrypt: {
      const auto& d = r.decrypt();
      NoteQuery(d.key(), log);
      const Bytes ciphertext(d.ciphertext().begin(), d.ciphertext().end());
      Reply(api.Decrypt(FromWire(d.key()), d.algorithm(), ciphertext, FromWire(d.auth())), &out, log,
            operation);
      break;
    }
    case wire::Request::kKeyExchange: {
      const auto& x = r.key_exchange();
      NoteQuery(x.key(), log);
      const Bytes peer(x.peer_public_key().begin(), x.peer_public_key().end());
      const Bytes info(x.shared_info().begin(), x.shared_info().end());
      std::optional<size_t> size;
      if (x.has_requested_size()) size = static_cast<size_t>(x.requested_size());
      Reply(api.KeyExchange(FromWire(x.key()), x.algorithm(), peer, size, info, FromWire(x.auth())), &out,
            log, operation);
      break;
    }
    case wire::Request::kExportPrivateKey:
      NoteQuery(r.export_private_key().key(), log);
      Reply(api.ExportPrivateKey(FromWire(r.export_private_key().key())), &out, log,
            [&](const Bytes& b) { out.mutable_private_key()->set_data(std::string(b.begin(), b.end())); });
      break;
    case wire::Request::kCreateAuthContext:
      Reply(api.CreateAuthContext(r.create_auth_context().reuse_seconds()), &out, log,
            [&](const std::string& id) { out.mutable_auth_context()->set_context_id(id); });
      break;
    case wire::Request::kInvalidateAuthContext: {
      Status s = api.InvalidateAuthContext(r.invalidate_auth_context().context_id());
      if (s.ok()) {
        out.mutable_done();
      } else {
        log->error = s.error();
        ToWire(s.error(), out.mutable_error());
      }
      break;
    }
    case wire::Request::kAdmin: {
      const auto& a = r.admin();
      log->command = a.command();
      auto args = ParseJsonBounded(a.args_json());
      if (!args.ok()) {
        log->error = args.error();
        ToWire(args.error(), out.mutable_error());
        break;
      }
      Reply(api.Admin(a.command(), *args, Secrets(a)), &out, log,
            [&](const nlohmann::json& j) { out.mutable_admin()->set_result_json(DumpJson(j)); });
      break;
    }
    case wire::Request::kReenroll:
      NoteQuery(r.reenroll().key(), log);
      Reply(api.Reenroll(FromWire(r.reenroll().key()), FromWire(r.reenroll().auth())), &out, log,
            [&](const ReenrollResult& re) {
              NoteKid(re.old_kid, log);
              NoteKid(re.key.kid, log);
              ToWire(re, out.mutable_reenroll());
            });
      break;
    default: {
      const Error e = ProtocolError("unsupported request");
      log->error = e;
      ToWire(e, out.mutable_error());
      break;
    }
  }
  return out;
}

}  // namespace

wire::Response Dispatch(Api& session, const wire::Request& request, RequestLogEntry* log) {
  try {
    return Serve(session, request, log);
  } catch (const std::exception& e) {
    // The service returns errors as values; an escaping exception is a bug, reported as one
    // without taking the daemon down.
    const Error err = OSStatusError(errsec::kInternal, std::string("internal error: ") + e.what());
    log->error = err;
    return ErrorResponse(request.id(), err);
  }
}

}  // namespace enclave::daemon
