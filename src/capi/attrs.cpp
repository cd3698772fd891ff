// enclave_attrs: one bag of named values, read as a key spec, a query or a set of changes. Each
// reading accepts only the names that mean something there, so a misplaced attribute is an
// error rather than silently ignored (a query cannot filter on "accessible", for instance).
#include <set>

#include "capi/handles.h"
#include "common/text.h"

namespace enclave::capi {
namespace {

const std::set<std::string> kSpecNames = {
    "label",    "application_label", "application_tag", "access_group",
    "token",    "accessible",        "access_control",  "permanent",
    "can_sign", "can_derive",        "can_decrypt",     "application_password",
    "ssh"};
const std::set<std::string> kQueryNames = {
    "label", "application_label", "application_tag", "access_group", "token", "kid", "ssh"};
const std::set<std::string> kChangeNames = {"label",      "application_tag", "can_sign",
                                            "can_derive", "can_decrypt",     "ssh"};

std::string Text(const SecureBytes& b) { return ToString(b.view()); }
Bytes Raw(const SecureBytes& b) { return Bytes(b.data(), b.data() + b.size()); }

Status OnlyNames(const AttrMap& attrs, const std::set<std::string>& allowed, const char* what) {
  for (const auto& [name, value] : attrs) {
    if (allowed.count(name) == 0) return ParamError("\"" + name + "\" is not an attribute of " + what);
  }
  return Ok();
}

Result<std::optional<bool>> Flag(const AttrMap& attrs, const char* name) {
  auto it = attrs.find(name);
  if (it == attrs.end()) return std::optional<bool>();
  const std::string v = Text(it->second);
  if (v == "true") return std::optional<bool>(true);
  if (v == "false") return std::optional<bool>(false);
  return ParamError(std::string("\"") + name + "\" must be \"true\" or \"false\"");
}

}  // namespace

bool KnownAttr(const std::string& name) {
  return kSpecNames.count(name) > 0 || kQueryNames.count(name) > 0 || kChangeNames.count(name) > 0;
}

Error ParamError(const std::string& what) {
  return OSStatusError(errsec::kParam, what).WithCause("bad-parameter");
}

Result<KeySpec> SpecFrom(const AttrMap& attrs) {
  RETURN_IF_ERROR(OnlyNames(attrs, kSpecNames, "a key spec"));
  KeySpec spec;
  auto get = [&](const char* name) -> const SecureBytes* {
    auto it = attrs.find(name);
    return it == attrs.end() ? nullptr : &it->second;
  };
  if (auto* v = get("label")) spec.label = Text(*v);
  if (auto* v = get("application_label")) spec.application_label = Raw(*v);
  if (auto* v = get("application_tag")) spec.application_tag = Raw(*v);
  if (auto* v = get("access_group")) spec.access_group = Text(*v);
  if (auto* v = get("token")) spec.token = Text(*v);
  if (auto* v = get("accessible")) spec.accessible = Text(*v);
  if (auto* v = get("access_control")) spec.access_control = SplitCommaList(Text(*v));
  if (auto* v = get("application_password")) spec.application_password = Text(*v);
  ASSIGN_OR_RETURN(auto permanent, Flag(attrs, "permanent"));
  if (permanent) spec.permanent = *permanent;
  ASSIGN_OR_RETURN(spec.can_sign, Flag(attrs, "can_sign"));
  ASSIGN_OR_RETURN(spec.can_derive, Flag(attrs, "can_derive"));
  ASSIGN_OR_RETURN(spec.can_decrypt, Flag(attrs, "can_decrypt"));
  ASSIGN_OR_RETURN(auto ssh, Flag(attrs, "ssh"));
  spec.ssh = ssh.value_or(false);
  return spec;
}

Result<KeyQuery> QueryFrom(const AttrMap& attrs, bool match_all) {
  RETURN_IF_ERROR(OnlyNames(attrs, kQueryNames, "a key query"));
  KeyQuery q;
  q.match_all = match_all;
  for (const auto& [name, v] : attrs) {
    if (name == "label") q.label = Text(v);
    if (name == "application_label") q.application_label = Raw(v);
    if (name == "application_tag") q.application_tag = Raw(v);
    if (name == "access_group") q.access_group = Text(v);
    if (name == "token") q.token = Text(v);
    if (name == "kid") q.kid = Text(v);
  }
  ASSIGN_OR_RETURN(q.ssh, Flag(attrs, "ssh"));
  return q;
}

Result<KeyChanges> ChangesFrom(const AttrMap& attrs) {
  RETURN_IF_ERROR(OnlyNames(attrs, kChangeNames, "key changes"));
  KeyChanges c;
  if (auto it = attrs.find("label"); it != attrs.end()) c.label = Text(it->second);
  if (auto it = attrs.find("application_tag"); it != attrs.end()) c.application_tag = Raw(it->second);
  ASSIGN_OR_RETURN(c.can_sign, Flag(attrs, "can_sign"));
  ASSIGN_OR_RETURN(c.can_derive, Flag(attrs, "can_derive"));
  ASSIGN_OR_RETURN(c.can_decrypt, Flag(attrs, "can_decrypt"));
  ASSIGN_OR_RETURN(c.ssh, Flag(attrs, "ssh"));
  if (!c.label && !c.application_tag && !c.can_sign && !c.can_derive && !c.can_decrypt && !c.ssh)
    return ParamError("key changes: nothing to change");
  return c;
}

}  // namespace enclave::capi
