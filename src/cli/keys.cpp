// `enclave key …`: create, list, show, export-public, export-private (refused), update, delete, reenroll,
// attest.
#include <cctype>
#include <memory>

#include "cli/context.h"
#include "common/text.h"
#include "crypto/ec.h"
#include "rpclient/device_key.h"

namespace enclave::cli {
namespace {

std::string KeyLine(const KeyInfo& k) {
  std::string label = k.label.empty() ? "" : " label=\"" + k.label + "\"";
  return k.kid + "  " + k.token + "  " + k.accessible + label + "  " + k.description + "\n";
}

std::string KeyText(const KeyInfo& k) { return HumanJson(KeyInfoToJson(k)); }

// RFC 7512 URI of the key's private object in the PKCS#11 module (docs/pkcs11.md).
std::string Pkcs11Uri(const KeyInfo& k) {
  auto encode = [](ByteView b, bool all) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (uint8_t c : b) {
      if (!all && (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')) {
        out += static_cast<char>(c);
      } else {
        out += {'%', hex[c >> 4], hex[c & 15]};
      }
    }
    return out;
  };
  std::string uri = std::string("pkcs11:token=") + (k.token == "tpm2" ? "enclave-tpm2" : "enclave");
  uri += ";id=" + encode(k.application_label, true);
  if (!k.label.empty()) uri += ";object=" + encode(AsBytes(k.label), false);
  return uri + ";type=private";
}

Result<KeyInfo> FindOne(Api& api, const Selector& sel) {
  ASSIGN_OR_RETURN(KeyQuery q, sel.ToQuery(false));
  ASSIGN_OR_RETURN(std::vector<KeyInfo> keys, api.FindKeys(q));
  if (keys.empty())
    return OSStatusError(errsec::kItemNotFound, "no matching key").WithCause("item-not-found");
  return std::move(keys.front());
}

Error NeedsSelector(const std::string& command) {
  return OSStatusError(errsec::kParam,
                       command + " needs a selector (--label, --application-label, --kid, ...)")
      .WithCause("bad-parameter");
}

struct CreateOptions {
  std::string label, app_label, app_label_hex, app_tag, app_tag_hex, access_group,
      token = "soft", accessible = "when-unlocked", access_control, key_type = "ec";
  int key_size = 256;
  CLI::Option *label_opt, *app_label_opt, *app_label_hex_opt, *app_tag_opt, *app_tag_hex_opt, *group_opt;
  bool non_permanent = false;
  bool application_password_stdin = false;
  bool ssh = false;
};

int Create(Context& ctx, const CreateOptions& o) {
  KeySpec spec;
  if (o.label_opt->count() > 0) spec.label = o.label;
  auto app_label = TextOrHex(o.app_label_opt, o.app_label, o.app_label_hex_opt, o.app_label_hex,
                             "--application-label-hex");
  if (!app_label.ok()) return ctx.Fail(app_label.error());
  spec.application_label = *app_label;
  auto tag = TextOrHex(o.app_tag_opt, o.app_tag, o.app_tag_hex_opt, o.app_tag_hex, "--application-tag-hex");
  if (!tag.ok()) return ctx.Fail(tag.error());
  spec.application_tag = *tag;
  if (o.group_opt->count() > 0) spec.access_group = o.access_group;
  spec.token = o.token;
  spec.key_type = o.key_type;
  spec.key_size = o.key_size;
  spec.accessible = o.accessible;
  spec.access_control = SplitCommaList(o.access_control);
  spec.permanent = !o.non_permanent;
  spec.ssh = o.ssh;
  if (o.application_password_stdin) {
    auto pw = ReadSecretLine(ctx.env, "application password");
    if (!pw.ok()) return ctx.Fail(pw.error());
    spec.application_password = ToString(pw->view());
  }
  auto api = ctx.Connect();
  if (!api.ok()) return ctx.Fail(api.error());
  auto key = (*api)->CreateKey(spec);
  if (!key.ok()) return ctx.Fail(key.error());
  return ctx.Print(KeyInfoToJson(*key), KeyText(*key));
}

int List(Context& ctx, const Selector& sel) {
  auto q = sel.ToQuery(true);
  if (!q.ok()) return ctx.Fail(q.error());
  auto api = ctx.Connect();
  if (!api.ok()) return ctx.Fail(api.error());
  auto keys = (*api)->FindKeys(*q);
  std::vector<KeyInfo> found;
  // Listing nothing is an empty list, not a failure (unlike `key show`).
  if (!keys.ok() && keys.error().code != errsec::kItemNotFound) return ctx.Fail(keys.error());
  if (keys.ok()) found = std::move(*keys);
  // The device identity key (rpclient/device_key.h) is the enclave's own, not one of the user's:
  // listed only when asked for by its application label.
  if (!q->application_label) {
    std::erase_if(found, [](const KeyInfo& k) { return rpclient::IsDeviceKey(k); });
  }
  nlohmann::json doc{{"keys", nlohmann::json::array()}};
  std::string text;
  for (const auto& k : found) {
    doc["keys"].push_back(KeyInfoToJson(k));
    text += KeyLine(k);
  }
  if (found.empty()) text = "no keys\n";
  return ctx.Print(doc, text);
}

int Show(Context& ctx, const Selector& sel) {
  if (sel.empty()) return ctx.Fail(NeedsSelector("key show"));
  auto api = ctx.Connect();
  if (!api.ok()) return ctx.Fail(api.error());
  auto key = FindOne(**api, sel);
  if (!key.ok()) return ctx.Fail(key.error());
  nlohmann::json doc = KeyInfoToJson(*key);
  doc["pkcs11_uri"] = Pkcs11Uri(*key);
  return ctx.Print(doc, HumanJson(doc));
}

// Always refused (errSecUnimplemented, -4): a private key never leaves the enclave. The command
// exists so that scripts asking for it get the platform's answer rather than a usage error.
int ExportPrivate(Context& ctx, const Selector& sel) {
  if (sel.empty()) return ctx.Fail(NeedsSelector("key export-private"));
  auto q = sel.ToQuery(false);
  if (!q.ok()) return ctx.Fail(q.error());
  auto api = ctx.Connect();
  if (!api.ok()) return ctx.Fail(api.error());
  auto exported = (*api)->ExportPrivateKey(*q);
  if (!exported.ok()) return ctx.Fail(exported.error());
  return ctx.Fail(
      OSStatusError(errsec::kInternal, "the enclave returned private key material").WithCause("internal"));
}

struct ExportOptions {
  Selector sel;
  std::string format = "spki-pem";
  std::string out;
  CLI::Option* out_opt = nullptr;
};

int ExportPublic(Context& ctx, const ExportOptions& o) {
  if (o.sel.empty()) return ctx.Fail(NeedsSelector("key export-public"));
  auto api = ctx.Connect();
  if (!api.ok()) return ctx.Fail(api.error());
  auto key = FindOne(**api, o.sel);
  if (!key.ok()) return ctx.Fail(key.error());
  auto pub = crypto::EcPublicKey::FromX963(key->public_key_x963);
  if (!pub.ok()) return ctx.Fail(pub.error());
  Bytes data;
  nlohmann::json shown;
  if (o.format == "spki-pem") {
    data = ToBytes(pub->SpkiPem());
    shown = pub->SpkiPem();
  } else if (o.format == "openssh") {
    data = ToBytes(pub->OpenSsh("enclave:" + key->kid) + "\n");
    shown = pub->OpenSsh("enclave:" + key->kid);
  } else if (o.format == "spki-der") {
    data = pub->SpkiDer();
    shown = HexEncode(data);
  } else {  // x963 (the option is checked by CLI11)
    data = pub->X963();
    shown = HexEncode(data);
  }
  const bool to_file = o.out_opt->count() > 0 && o.out != "-";
  if (to_file) {
    if (auto s = WriteFileBytes(o.out, data); !s.ok()) return ctx.Fail(s.error());
  }
  nlohmann::json doc{{"kid", key->kid}, {"format", o.format}, {"public_key", shown}};
  if (to_file) doc["out"] = o.out;
  if (ctx.json) return ctx.Print(doc);
  if (to_file)
    return ctx.Print(doc, "wrote " + o.format + " public key of " + key->kid + " to " + o.out + "\n");
  const bool binary = o.format == "spki-der" || o.format == "x963";
  if (binary) {
    ctx.env.out->write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  } else {
    *ctx.env.out << ToString(data);
  }
  return 0;
}

struct UpdateOptions {
  Selector sel;
  std::string set_label, set_tag, set_tag_hex;
  CLI::Option *set_label_opt, *set_tag_opt, *set_tag_hex_opt;
  std::string can_sign, can_derive, can_decrypt, ssh;
};

std::optional<bool> TriState(const std::string& s) {
  if (s == "true") return true;
  if (s == "false") return false;
  return std::nullopt;
}

int Update(Context& ctx, const UpdateOptions& o) {
  if (o.sel.empty()) return ctx.Fail(NeedsSelector("key update"));
  KeyChanges changes;
  if (o.set_label_opt->count() > 0) changes.label = o.set_label;
  auto tag =
      TextOrHex(o.set_tag_opt, o.set_tag, o.set_tag_hex_opt, o.set_tag_hex, "--set-application-tag-hex");
  if (!tag.ok()) return ctx.Fail(tag.error());
  changes.application_tag = *tag;
  changes.can_sign = TriState(o.can_sign);
  changes.can_derive = TriState(o.can_derive);
  changes.can_decrypt = TriState(o.can_decrypt);
  if (!o.ssh.empty()) changes.ssh = o.ssh == "on";
  if (!changes.label && !changes.application_tag && !changes.can_sign && !changes.can_derive &&
      !changes.can_decrypt && !changes.ssh) {
    return ctx.Fail(OSStatusError(errsec::kParam, "key update: nothing to change (--set-label, --set-...)")
                        .WithCause("bad-parameter"));
  }
  auto q = o.sel.ToQuery(true);
  if (!q.ok()) return ctx.Fail(q.error());
  auto api = ctx.Connect();
  if (!api.ok()) return ctx.Fail(api.error());
  auto n = (*api)->UpdateKeys(*q, changes);
  if (!n.ok()) return ctx.Fail(n.error());
  return ctx.Print({{"updated", *n}}, "updated " + std::to_string(*n) + " key(s)\n");
}

int Delete(Context& ctx, const Selector& sel) {
  if (sel.empty()) return ctx.Fail(NeedsSelector("key delete"));
  auto q = sel.ToQuery(true);
  if (!q.ok()) return ctx.Fail(q.error());
  auto api = ctx.Connect();
  if (!api.ok()) return ctx.Fail(api.error());
  auto n = (*api)->DeleteKeys(*q);
  if (!n.ok()) return ctx.Fail(n.error());
  return ctx.Print({{"deleted", *n}}, "deleted " + std::to_string(*n) + " key(s)\n");
}

struct ReenrollOptions {
  Selector sel;
  std::string prompt, statement_out;
  CLI::Option* statement_out_opt = nullptr;
  bool passcode_stdin = false;
};

int Reenroll(Context& ctx, const ReenrollOptions& o) {
  if (o.sel.empty()) return ctx.Fail(NeedsSelector("key reenroll"));
  auto q = o.sel.ToQuery(false);
  if (!q.ok()) return ctx.Fail(q.error());
  auto api = ctx.Connect();
  if (!api.ok()) return ctx.Fail(api.error());
  AuthOptions auth;
  auth.operation_prompt = o.prompt;
  auto r = WithPasscodeRetry<ReenrollResult>(ctx, auth, o.passcode_stdin,
                                             [&](const AuthOptions& a) { return (*api)->Reenroll(*q, a); });
  if (!r.ok()) return ctx.Fail(r.error());
  nlohmann::json doc = KeyInfoToJson(r->key);
  doc["old_kid"] = r->old_kid;
  doc["rotation_statement"] =
      r->rotation_statement ? nlohmann::json(HexEncode(*r->rotation_statement)) : nullptr;
  if (r->rotation_statement && o.statement_out_opt->count() > 0) {
    if (auto s = WriteFileBytes(o.statement_out, *r->rotation_statement); !s.ok()) return ctx.Fail(s.error());
    doc["rotation_statement_out"] = o.statement_out;
  }
  std::string text = "re-enrolled " + r->old_kid + " as " + r->key.kid +
                     "\nnew public key (X9.63): " + HexEncode(r->key.public_key_x963) + "\n";
  text += r->rotation_statement
              ? "rotation statement signed by the old key" +
                    (o.statement_out_opt->count() > 0 ? " written to " + o.statement_out : "") + "\n"
              : "no rotation statement: the old key could not sign\n";
  text += "register the new public key with the relying party (enclave key export-public --kid " +
          r->key.kid + ")\n";
  return ctx.Print(doc, text);
}

struct AttestOptions {
  Selector sel;
  std::string out;
};

int Attest(Context& ctx, const AttestOptions& o) {
  if (o.sel.empty()) return ctx.Fail(NeedsSelector("key attest"));
  auto q = o.sel.ToQuery(false);
  if (!q.ok()) return ctx.Fail(q.error());
  auto api = ctx.Connect();
  if (!api.ok()) return ctx.Fail(api.error());
  auto r = (*api)->Admin("attest", {{"query", KeyQueryToJson(*q)}}, {});
  if (!r.ok()) return ctx.Fail(r.error());
  // The file holds the service's attestation document as is; verify-attestation reads it.
  if (auto s = WriteFileBytes(o.out, ToBytes(r->dump(2) + "\n")); !s.ok()) return ctx.Fail(s.error());
  nlohmann::json doc = *r;
  doc["out"] = o.out;
  return ctx.Print(doc, "wrote the key attestation to " + o.out + "\n");
}

}  // namespace

void AddKeyCommands(CLI::App& app, Context& ctx) {
  CLI::App* key = app.add_subcommand("key", "create, find, update, delete and re-enroll keys");
  key->require_subcommand(1);

  auto create = std::make_shared<CreateOptions>();
  CLI::App* c = key->add_subcommand("create", "create a P-256 key in a token (soft or tpm2)");
  create->label_opt = c->add_option("--label", create->label, "human-readable label");
  create->app_label_opt = c->add_option("--application-label", create->app_label,
                                        "application label as text (default: SHA-1 of the public key)");
  create->app_label_hex_opt =
      c->add_option("--application-label-hex", create->app_label_hex, "application label as hex");
  create->app_label_opt->excludes(create->app_label_hex_opt);
  create->app_tag_opt = c->add_option("--application-tag", create->app_tag, "application tag as text");
  create->app_tag_hex_opt =
      c->add_option("--application-tag-hex", create->app_tag_hex, "application tag as hex");
  create->app_tag_opt->excludes(create->app_tag_hex_opt);
  create->group_opt = c->add_option("--access-group", create->access_group, "keychain access group");
  c->add_option("--token", create->token, "soft (default) or tpm2")->check(CLI::IsMember({"soft", "tpm2"}));
  c->add_option("--key-type", create->key_type, "ec (the only type a token holds; default)");
  c->add_option("--key-size", create->key_size, "256 (P-256, the only size a token holds; default)");
  c->add_option("--accessible", create->accessible, "accessibility class (default when-unlocked)");
  c->add_option("--access-control", create->access_control,
                "comma list: user-presence, biometry-any, biometry-current-set, device-passcode, or, and, "
                "private-key-usage, application-password");
  c->add_flag("--non-permanent", create->non_permanent, "the key lives only as long as this connection");
  c->add_flag("--application-password-stdin", create->application_password_stdin,
              "read the application password from standard input");
  c->add_flag("--ssh", create->ssh, "offer the key through the ssh agent (enclave ssh-agent env)");
  c->callback([&ctx, create] { ctx.status = Create(ctx, *create); });

  auto list = std::make_shared<Selector>();
  CLI::App* l = key->add_subcommand("list", "list keys (all, or those matching the selectors)");
  list->AddTo(l);
  l->callback([&ctx, list] { ctx.status = List(ctx, *list); });

  auto show = std::make_shared<Selector>();
  CLI::App* s = key->add_subcommand("show", "show the first key matching the selectors");
  show->AddTo(s);
  s->callback([&ctx, show] { ctx.status = Show(ctx, *show); });

  auto exp = std::make_shared<ExportOptions>();
  CLI::App* e = key->add_subcommand("export-public", "export a key's public key");
  exp->sel.AddTo(e);
  e->add_option("--format", exp->format, "spki-pem (default) | spki-der | x963 | openssh")
      ->check(CLI::IsMember({"spki-pem", "spki-der", "x963", "openssh"}));
  exp->out_opt = e->add_option("--out", exp->out, "output file (default: standard output)");
  e->callback([&ctx, exp] { ctx.status = ExportPublic(ctx, *exp); });

  auto upd = std::make_shared<UpdateOptions>();
  CLI::App* u = key->add_subcommand("update", "change mutable attributes of every matching key");
  upd->sel.AddTo(u);
  upd->set_label_opt = u->add_option("--set-label", upd->set_label, "new label");
  upd->set_tag_opt = u->add_option("--set-application-tag", upd->set_tag, "new application tag (text)");
  upd->set_tag_hex_opt =
      u->add_option("--set-application-tag-hex", upd->set_tag_hex, "new application tag (hex)");
  upd->set_tag_opt->excludes(upd->set_tag_hex_opt);
  const auto boolean = CLI::IsMember({"true", "false"});
  u->add_option("--set-can-sign", upd->can_sign, "true | false")->check(boolean);
  u->add_option("--set-can-derive", upd->can_derive, "true | false")->check(boolean);
  u->add_option("--set-can-decrypt", upd->can_decrypt, "true | false")->check(boolean);
  u->add_option("--ssh", upd->ssh, "on | off: whether the ssh agent offers the key")
      ->check(CLI::IsMember({"on", "off"}));
  u->callback([&ctx, upd] { ctx.status = Update(ctx, *upd); });

  auto xp = std::make_shared<Selector>();
  CLI::App* x =
      key->add_subcommand("export-private", "always refused: private keys never leave the enclave (-4)");
  xp->AddTo(x);
  x->callback([&ctx, xp] { ctx.status = ExportPrivate(ctx, *xp); });

  auto del = std::make_shared<Selector>();
  CLI::App* d = key->add_subcommand("delete", "delete every matching key");
  del->AddTo(d);
  d->callback([&ctx, del] { ctx.status = Delete(ctx, *del); });

  auto re = std::make_shared<ReenrollOptions>();
  CLI::App* r = key->add_subcommand("reenroll", "replace a key by a new one with the same attributes");
  re->sel.AddTo(r);
  r->add_option("--prompt", re->prompt, "operation prompt shown if the old key must authenticate to sign");
  re->statement_out_opt = r->add_option("--rotation-statement-out", re->statement_out,
                                        "write the rotation statement (JSON) here");
  r->add_flag("--passcode-stdin", re->passcode_stdin,
              "read a passcode from standard input when one is needed");
  r->callback([&ctx, re] { ctx.status = Reenroll(ctx, *re); });

  auto att = std::make_shared<AttestOptions>();
  CLI::App* a = key->add_subcommand("attest", "certify a tpm2 key with the TPM's attestation key");
  att->sel.AddTo(a);
  a->add_option("--out", att->out, "attestation output file")->required();
  a->callback([&ctx, att] { ctx.status = Attest(ctx, *att); });
}

}  // namespace enclave::cli
