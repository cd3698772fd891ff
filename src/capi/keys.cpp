// The C API's keys: create, query, update, delete, the private-key operations and reenroll. A
// key handle is the item's attributes plus the connection it came from; operations select the
// item by its kid, so a handle keeps naming the same key whatever else changes.
#include <cstring>

#include "capi/handles.h"

using namespace enclave;        // NOLINT(google-build-using-namespace)
using namespace enclave::capi;  // NOLINT(google-build-using-namespace)

namespace {

enclave_key* NewKey(const std::shared_ptr<Connection>& conn, KeyInfo info) {
  auto* k = new enclave_key;
  k->conn = conn;
  k->info = std::move(info);
  return k;
}

KeyQuery ByKid(const enclave_key* key) {
  KeyQuery q;
  q.kid = key->info.kid;
  return q;
}

AuthOptions AuthFrom(const char* prompt, const enclave_context* ctx) {
  AuthOptions a;
  if (prompt != nullptr) a.operation_prompt = prompt;
  if (ctx != nullptr) {
    a.context_id = ctx->id;
    a.interaction_allowed = ctx->interaction_allowed;
    a.passcode = ctx->passcode;
    a.application_password = ctx->application_password;
  }
  return a;
}

Status SameConnection(const enclave_key* key, const enclave_context* ctx) {
  if (ctx != nullptr && ctx->conn != key->conn)
    return ParamError("the authentication context belongs to another enclave handle");
  return Ok();
}

// Shared shape of sign, decrypt and key exchange: run `op` for the key, copy the output out.
template <typename Op>
int PrivateOperation(enclave_key* key, const enclave_context* ctx, uint8_t** out, size_t* out_len,
                     enclave_error** err, Op op) {
  return Guard(err, [&]() -> Status {
    if (key == nullptr) return ParamError("the key is NULL");
    if (out == nullptr || out_len == nullptr) return ParamError("missing output buffer pointer");
    RETURN_IF_ERROR(SameConnection(key, ctx));
    ASSIGN_OR_RETURN(OperationResult r,
                     key->conn->With([&](client::Client& c) { return op(c, ByKid(key)); }));
    return CopyOut(r.output, out, out_len);
  });
}

Bytes BytesOf(const uint8_t* p, size_t n) { return p == nullptr ? Bytes() : Bytes(p, p + n); }

}  // namespace

extern "C" {

int enclave_key_create(enclave_handle* e, const enclave_attrs* spec, enclave_key** out, enclave_error** err) {
  return Guard(err, [&]() -> Status {
    if (e == nullptr || spec == nullptr || out == nullptr)
      return ParamError("enclave_key_create: NULL argument");
    ASSIGN_OR_RETURN(KeySpec s, SpecFrom(spec->values));
    ASSIGN_OR_RETURN(KeyInfo info, e->conn->With([&](client::Client& c) { return c.CreateKey(s); }));
    *out = NewKey(e->conn, std::move(info));
    return Ok();
  });
}

int enclave_key_copy_matching(enclave_handle* e, const enclave_attrs* query, enclave_key** out,
                              enclave_error** err) {
  return Guard(err, [&]() -> Status {
    if (e == nullptr || query == nullptr || out == nullptr)
      return ParamError("enclave_key_copy_matching: NULL argument");
    ASSIGN_OR_RETURN(KeyQuery q, QueryFrom(query->values, false));
    ASSIGN_OR_RETURN(auto keys, e->conn->With([&](client::Client& c) { return c.FindKeys(q); }));
    if (keys.empty())
      return OSStatusError(errsec::kItemNotFound, "no matching key").WithCause("item-not-found");
    *out = NewKey(e->conn, std::move(keys.front()));
    return Ok();
  });
}

int enclave_key_copy_all_matching(enclave_handle* e, const enclave_attrs* query, enclave_key_list** out,
                                  enclave_error** err) {
  return Guard(err, [&]() -> Status {
    if (e == nullptr || out == nullptr) return ParamError("enclave_key_copy_all_matching: NULL argument");
    ASSIGN_OR_RETURN(KeyQuery q, QueryFrom(query ? query->values : AttrMap(), true));
    auto keys = e->conn->With([&](client::Client& c) { return c.FindKeys(q); });
    // Like `enclave key list`: nothing found is an empty list.
    if (!keys.ok() && keys.error().code != errsec::kItemNotFound) return std::move(keys).error();
    auto list = std::make_unique<enclave_key_list>();
    if (keys.ok()) {
      list->keys.reserve(keys->size());
      for (auto& k : *keys) list->keys.push_back(NewKey(e->conn, std::move(k)));
    }
    *out = list.release();
    return Ok();
  });
}

size_t enclave_key_list_count(const enclave_key_list* list) { return list ? list->keys.size() : 0; }

enclave_key* enclave_key_list_get(const enclave_key_list* list, size_t index) {
  return list && index < list->keys.size() ? list->keys[index] : nullptr;
}

void enclave_key_list_free(enclave_key_list* list) { delete list; }

int enclave_key_update(enclave_handle* e, const enclave_attrs* query, const enclave_attrs* changes,
                       size_t* count, enclave_error** err) {
  return Guard(err, [&]() -> Status {
    if (e == nullptr || query == nullptr || changes == nullptr)
      return ParamError("enclave_key_update: NULL argument");
    ASSIGN_OR_RETURN(KeyQuery q, QueryFrom(query->values, true));
    ASSIGN_OR_RETURN(KeyChanges c, ChangesFrom(changes->values));
    ASSIGN_OR_RETURN(int n, e->conn->With([&](client::Client& cl) { return cl.UpdateKeys(q, c); }));
    if (count != nullptr) *count = static_cast<size_t>(n);
    return Ok();
  });
}

int enclave_key_delete(enclave_handle* e, const enclave_attrs* query, size_t* count, enclave_error** err) {
  return Guard(err, [&]() -> Status {
    if (e == nullptr || query == nullptr) return ParamError("enclave_key_delete: NULL argument");
    if (query->values.empty()) return ParamError("enclave_key_delete: an empty query would delete every key");
    ASSIGN_OR_RETURN(KeyQuery q, QueryFrom(query->values, true));
    ASSIGN_OR_RETURN(int n, e->conn->With([&](client::Client& c) { return c.DeleteKeys(q); }));
    if (count != nullptr) *count = static_cast<size_t>(n);
    return Ok();
  });
}

const char* enclave_key_kid(const enclave_key* key) { return key ? key->info.kid.c_str() : ""; }
const char* enclave_key_label(const enclave_key* key) { return key ? key->info.label.c_str() : ""; }

int enclave_key_copy_public_key(enclave_key* key, uint8_t** x963, size_t* len, enclave_error** err) {
  return Guard(err, [&]() -> Status {
    if (key == nullptr) return ParamError("the key is NULL");
    return CopyOut(key->info.public_key_x963, x963, len);
  });
}

int enclave_key_copy_attributes(enclave_key* key, char** json, enclave_error** err) {
  return Guard(err, [&]() -> Status {
    if (key == nullptr) return ParamError("the key is NULL");
    return CopyOutText(KeyInfoToJson(key->info).dump(), json);
  });
}

enclave_key* enclave_key_retain(enclave_key* key) {
  if (key != nullptr) key->refs.fetch_add(1, std::memory_order_relaxed);
  return key;
}

void enclave_key_release(enclave_key* key) {
  if (key != nullptr && key->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete key;
}

int enclave_key_sign(enclave_key* key, const char* algorithm, const uint8_t* data, size_t len,
                     const char* prompt, uint8_t** signature, size_t* signature_len, enclave_error** err) {
  return enclave_key_sign_with_context(key, algorithm, data, len, prompt, nullptr, signature, signature_len,
                                       err);
}

int enclave_key_sign_with_context(enclave_key* key, const char* algorithm, const uint8_t* data, size_t len,
                                  const char* prompt, enclave_context* ctx, uint8_t** signature,
                                  size_t* signature_len, enclave_error** err) {
  return PrivateOperation(key, ctx, signature, signature_len, err, [&](client::Client& c, const KeyQuery& q) {
    return c.Sign(q, algorithm ? algorithm : "", BytesOf(data, len), AuthFrom(prompt, ctx));
  });
}

int enclave_key_decrypt(enclave_key* key, const char* algorithm, const uint8_t* ciphertext, size_t len,
                        const char* prompt, enclave_context* ctx, uint8_t** plaintext, size_t* plaintext_len,
                        enclave_error** err) {
  return PrivateOperation(key, ctx, plaintext, plaintext_len, err, [&](client::Client& c, const KeyQuery& q) {
    return c.Decrypt(q, algorithm ? algorithm : "", BytesOf(ciphertext, len), AuthFrom(prompt, ctx));
  });
}

int enclave_key_exchange(enclave_key* key, const char* algorithm, const uint8_t* peer_public_key,
                         size_t peer_len, size_t requested_size, const uint8_t* shared_info,
                         size_t shared_info_len, const char* prompt, enclave_context* ctx, uint8_t** secret,
                         size_t* secret_len, enclave_error** err) {
  std::optional<size_t> size;
  if (requested_size > 0) size = requested_size;
  return PrivateOperation(key, ctx, secret, secret_len, err, [&](client::Client& c, const KeyQuery& q) {
    return c.KeyExchange(q, algorithm ? algorithm : "", BytesOf(peer_public_key, peer_len), size,
                         BytesOf(shared_info, shared_info_len), AuthFrom(prompt, ctx));
  });
}

int enclave_key_reenroll(enclave_key* key, const char* prompt, enclave_context* ctx, enclave_key** new_key,
                         uint8_t** statement, size_t* statement_len, enclave_error** err) {
  return Guard(err, [&]() -> Status {
    if (key == nullptr || new_key == nullptr) return ParamError("enclave_key_reenroll: NULL argument");
    RETURN_IF_ERROR(SameConnection(key, ctx));
    ASSIGN_OR_RETURN(ReenrollResult r, key->conn->With([&](client::Client& c) {
      return c.Reenroll(ByKid(key), AuthFrom(prompt, ctx));
    }));
    if (statement != nullptr) {
      *statement = nullptr;
      if (statement_len != nullptr) *statement_len = 0;
      if (r.rotation_statement) RETURN_IF_ERROR(CopyOut(*r.rotation_statement, statement, statement_len));
    }
    *new_key = NewKey(key->conn, std::move(r.key));
    return Ok();
  });
}

}  // extern "C"
