// Every API type survives the trip through its wire message unchanged.
#include "daemon/codec.h"

#include <gtest/gtest.h>

namespace enclave::daemon {
namespace {

TEST(Codec, KeyInfoRoundTrip) {
  KeyInfo k;
  k.kid = "0123456789abcdef";
  k.persistent_id = 99;
  k.description = "<sepk:p256 kid=0123456789abcdef>";
  k.label = "unique label";
  k.application_label = {0, 1, 2, 0xff};
  k.application_tag = {9};
  k.access_group = "group";
  k.token = "soft";
  k.permanent = false;
  k.can_decrypt = false;
  k.created_ms = 1;
  k.modified_ms = 2;
  k.accessible = "when-unlocked-this-device-only";
  k.access_control = {"biometry-any", "private-key-usage"};
  k.public_key_x963 = Bytes(65, 4);
  wire::KeyInfo w;
  ToWire(k, &w);
  const KeyInfo b = FromWire(w);
  EXPECT_EQ(b.kid, k.kid);
  EXPECT_EQ(b.persistent_id, 99);
  EXPECT_EQ(b.application_label, k.application_label);
  EXPECT_EQ(b.application_tag, k.application_tag);
  EXPECT_FALSE(b.permanent);
  EXPECT_FALSE(b.can_decrypt);
  EXPECT_TRUE(b.can_sign);
  EXPECT_EQ(b.access_control, k.access_control);
  EXPECT_EQ(b.public_key_x963, k.public_key_x963);
  EXPECT_EQ(b.accessible, k.accessible);
  EXPECT_EQ(b.modified_ms, 2);
}

TEST(Codec, OptionalsStayUnsetAndDefaultsSurvive) {
  KeySpec s;
  wire::KeySpec w;
  ToWire(s, &w);
  const KeySpec b = FromWire(w);
  EXPECT_FALSE(b.label);
  EXPECT_FALSE(b.application_label);
  EXPECT_FALSE(b.can_sign);
  EXPECT_EQ(b.token, "soft");
  EXPECT_EQ(b.accessible, "when-unlocked");
  EXPECT_TRUE(b.permanent);

  KeyQuery q;
  q.application_label = Bytes{};  // set but empty is not unset
  q.match_all = true;
  wire::KeyQuery wq;
  ToWire(q, &wq);
  const KeyQuery bq = FromWire(wq);
  ASSERT_TRUE(bq.application_label);
  EXPECT_TRUE(bq.application_label->empty());
  EXPECT_FALSE(bq.kid);
  EXPECT_TRUE(bq.match_all);

  KeyChanges c;
  c.can_sign = false;
  wire::KeyChanges wc;
  ToWire(c, &wc);
  const KeyChanges bc = FromWire(wc);
  ASSERT_TRUE(bc.can_sign);
  EXPECT_FALSE(*bc.can_sign);
  EXPECT_FALSE(bc.label);
}

TEST(Codec, AuthOptionsCarrySecretsInBytes) {
  AuthOptions a;
  a.operation_prompt = "Verify your identity";
  a.context_id = "ctx";
  a.interaction_allowed = false;
  a.passcode = SecureBytes(AsBytes("1234"));
  wire::AuthOptions w;
  ToWire(a, &w);
  EXPECT_EQ(w.passcode(), "1234");
  const AuthOptions b = FromWire(w);
  EXPECT_EQ(b.operation_prompt, a.operation_prompt);
  EXPECT_EQ(*b.context_id, "ctx");
  EXPECT_FALSE(b.interaction_allowed);
  ASSERT_TRUE(b.passcode);
  EXPECT_TRUE(*b.passcode == *a.passcode);
  EXPECT_FALSE(b.application_password);
}

TEST(Codec, ErrorRoundTripKeepsChainCauseAndPrompted) {
  Error inner = KeystoreError(aks::kPolicyInvalid, "policy invalid");
  Error outer = inner.Wrap(domain::kCryptoTokenKit, tkerror::kCorruptedData, "unable to sign digest");
  outer.prompted = false;
  outer.user_info["AKSError"] = aks::kPolicyInvalid;
  wire::Error w;
  ToWire(outer, &w);
  const Error b = FromWire(w);
  EXPECT_EQ(b.domain, "CryptoTokenKit");
  EXPECT_EQ(b.code, -3);
  EXPECT_EQ(b.description, "unable to sign digest");
  EXPECT_EQ(b.user_info["AKSError"], aks::kPolicyInvalid);
  EXPECT_EQ(b.cause, outer.cause);
  ASSERT_TRUE(b.prompted);
  EXPECT_FALSE(*b.prompted);
  ASSERT_TRUE(b.underlying);
  EXPECT_EQ(b.underlying->code, aks::kPolicyInvalid);
  EXPECT_EQ(b.ToJson(), outer.ToJson());
}

TEST(Codec, OperationAndReenrollRoundTrip) {
  OperationResult op{.kid = "k", .algorithm = "a", .output = {1, 2, 3}, .prompted = true};
  wire::OperationResult w;
  ToWire(op, &w);
  const auto b = FromWire(w);
  EXPECT_EQ(b.output, op.output);
  EXPECT_TRUE(b.prompted);

  ReenrollResult r;
  r.old_kid = "old";
  r.key.kid = "new";
  wire::ReenrollResult wr;
  ToWire(r, &wr);
  auto br = FromWire(wr);
  EXPECT_EQ(br.old_kid, "old");
  EXPECT_EQ(br.key.kid, "new");
  EXPECT_FALSE(br.rotation_statement);
  r.rotation_statement = Bytes{7};
  wr.Clear();
  ToWire(r, &wr);
  EXPECT_EQ(*FromWire(wr).rotation_statement, Bytes{7});
}

}  // namespace
}  // namespace enclave::daemon

namespace enclave::daemon {
namespace {

TEST(Codec, WipeSecretsClearsEverySecretField) {
  wire::Request admin;
  admin.mutable_admin()->set_command("passcode.change");
  admin.mutable_admin()->add_secrets("111111");
  admin.mutable_admin()->add_secrets("222222");
  WipeSecrets(&admin);
  for (const auto& s : admin.admin().secrets()) EXPECT_TRUE(s.empty());
  EXPECT_EQ(admin.admin().command(), "passcode.change");

  wire::Request sign;
  sign.mutable_sign()->mutable_auth()->set_passcode("123456");
  sign.mutable_sign()->mutable_auth()->set_application_password("pw");
  sign.mutable_sign()->set_input("data");
  WipeSecrets(&sign);
  EXPECT_TRUE(sign.sign().auth().passcode().empty());
  EXPECT_TRUE(sign.sign().auth().application_password().empty());
  EXPECT_EQ(sign.sign().input(), "data");

  wire::Request create;
  create.mutable_create_key()->mutable_spec()->set_application_password("pw");
  WipeSecrets(&create);
  EXPECT_TRUE(create.create_key().spec().application_password().empty());
}

}  // namespace
}  // namespace enclave::daemon
