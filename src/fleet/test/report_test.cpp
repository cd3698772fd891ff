// The fleet format: every refusal the schema promises, with its reason and the field it names, and
// the round trips the device and the server rely on.
#include "fleet/report.h"

#include <gtest/gtest.h>

#include <string>

#include "webauthn/base64url.h"
#include "webauthn/test/test_keys.h"

namespace enclave::fleet {
namespace {

using nlohmann::json;

json Failure() {
  return json{{"id", "AAECAwQFBgcICQoLDA0ODw"},
              {"time", "2025-03-01T12:00:00Z"},
              {"kind", "failure"},
              {"credential_id", "Y3JlZA"},
              {"kid_hash", webauthn::Base64UrlEncode(std::vector<uint8_t>(32, 7))},
              {"operation", "sign"},
              {"domain", "CryptoTokenKit"},
              {"code", -3},
              {"cause", "biometry-database-reset"},
              {"permanence", "permanent"},
              {"remedy", "reenroll"},
              {"found_by", "use"},
              {"token", "soft"},
              {"prompted", true},
              {"enclave_version", "0.1.0"},
              {"os_id", "debian"},
              {"os_version", "12"},
              {"kernel", "6.1.0-18-amd64"},
              {"app_id", "com.example.app"},
              {"app_version", "1.2.3+build~4:x"}};
}

json Heartbeat() {
  return json{{"id", "AAECAwQFBgcICQoLDA0OEA"},
              {"time", "2025-03-01T12:00:00Z"},
              {"kind", "heartbeat"},
              {"enclave_version", "0.1.0"},
              {"os_id", "debian"},
              {"os_version", "12"},
              {"kernel", "6.1.0"},
              {"keys", {{"healthy", 2}, {"permanently-invalid", 1}}}};
}

json Reenroll() {
  return json{{"id", "AAECAwQFBgcICQoLDA0OEQ"},
              {"time", "2025-03-01T12:00:00Z"},
              {"kind", "reenroll"},
              {"credential_id", "bmV3"},
              {"replaced_credential_id", "Y3JlZA"},
              {"cause", "biometry-database-reset"},
              {"enclave_version", "0.1.0"},
              {"os_id", "debian"},
              {"os_version", "12"},
              {"kernel", "6.1.0"}};
}

std::string BatchOf(const json& reports, int64_t dropped = 0) {
  return json{{"reports", reports}, {"sent_at", "2025-03-01T12:00:05Z"}, {"dropped", dropped}}.dump();
}

// The refusal's reason and that its message starts with `field`.
void ExpectRefused(const Result<Batch>& r, std::string_view reason, std::string_view field) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().cause, reason);
  EXPECT_EQ(r.error().description.rfind(field, 0), 0u) << r.error().description;
}

void ExpectReportRefused(const json& report, std::string_view field) {
  ExpectRefused(ParseBatch(BatchOf(json::array({Failure(), report}))), kSchemaInvalid,
                "reports[1]." + std::string(field));
}

TEST(FleetReport, ValidReportsOfEachKindParseAndRoundTrip) {
  auto batch = ParseBatch(BatchOf(json::array({Failure(), Heartbeat(), Reenroll()}), 5));
  ASSERT_TRUE(batch.ok()) << batch.error().description;
  ASSERT_EQ(batch->reports.size(), 3u);
  EXPECT_EQ(batch->dropped, 5);
  EXPECT_EQ(batch->sent_at, 1740830405);
  const Report& f = batch->reports[0];
  EXPECT_EQ(f.time, 1740830400);
  EXPECT_EQ(f.cause, "biometry-database-reset");
  EXPECT_EQ(f.code, -3);
  EXPECT_EQ(f.prompted, true);
  EXPECT_EQ((*batch->reports[1].keys).at("permanently-invalid"), 1);
  EXPECT_EQ(batch->reports[2].replaced_credential_id, "Y3JlZA");
  EXPECT_EQ(ReportToJson(f), Failure());

  auto again = ParseBatch(SerializeBatch(*batch));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *batch);
}

TEST(FleetReport, EmptyBatchCarriesOnlyTheDroppedCount) {
  auto batch = ParseBatch(BatchOf(json::array(), 17));
  ASSERT_TRUE(batch.ok());
  EXPECT_TRUE(batch->reports.empty());
  EXPECT_EQ(batch->dropped, 17);
}

TEST(FleetReport, UnknownKeysAreRefusedWithoutEchoingThem) {
  json r = Failure();
  r["label"] = "alice's key";
  auto b = ParseBatch(BatchOf(json::array({r})));
  ExpectRefused(b, kSchemaInvalid, "reports[0].report");
  EXPECT_EQ(b.error().description.find("alice"), std::string::npos);
  ExpectRefused(ParseBatch(R"({"reports":[],"sent_at":"2025-03-01T12:00:05Z","dropped":0,"x":1})"),
                kSchemaInvalid, "batch");
}

TEST(FleetReport, EveryFieldsTypeAndCharsetIsChecked) {
  struct Case {
    const char* field;
    json value;
  };
  const std::vector<Case> cases = {
      {"id", "AAECAwQFBgcICQoLDA0O"},      // 15 bytes
      {"id", "AAECAwQFBgcICQoLDA0ODw=="},  // padding
      {"id", 7},
      {"time", "2025-03-01T12:00:00+01:00"},
      {"time", "2025-02-29T12:00:00Z"},  // not a leap year
      {"time", "1999-12-31T23:59:59Z"},
      {"time", "2025-03-01T24:00:00Z"},
      {"time", 1740830400},
      {"kind", "crash"},
      {"credential_id", "not base64!"},
      {"credential_id", ""},
      {"credential_id", std::string(1400, 'A')},
      {"kid_hash", "Y3JlZA"},  // not 32 bytes
      {"operation", "format-disk"},
      {"domain", "CryptoToken Kit"},
      {"domain", std::string(65, 'A')},
      {"code", 1.5},
      {"code", "-3"},
      {"code", 18446744073709551615u},
      {"cause", "Biometry reset"},
      {"cause", ""},
      {"cause", std::string(65, 'a')},
      {"permanence", "forever"},
      {"remedy", "reboot"},
      {"found_by", "user"},
      {"token", "yubikey"},
      {"prompted", "yes"},
      {"enclave_version", "0.1 beta"},
      {"os_id", "/etc/os-release"},
      {"os_version", ""},
      {"kernel", std::string(65, '6')},
      {"app_id", "com.example/app"},
      {"app_version", "1.0\n"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.field) + " = " + c.value.dump().substr(0, 40));
    json r = Failure();
    r[c.field] = c.value;
    ExpectReportRefused(r, c.field);
  }
}

TEST(FleetReport, KindRulesRequireAndRefuseFields) {
  for (const char* field : {"operation", "domain", "code", "cause", "permanence", "remedy", "found_by",
                            "token", "prompted", "enclave_version", "os_id", "os_version", "kernel", "id"}) {
    SCOPED_TRACE(field);
    json r = Failure();
    r.erase(field);
    ExpectReportRefused(r, field);
  }
  json r = Failure();
  r["replaced_credential_id"] = "Y3JlZA";
  ExpectReportRefused(r, "replaced_credential_id");
  r = Failure();
  r["keys"] = {{"healthy", 1}};
  ExpectReportRefused(r, "keys");

  for (const char* field : {"keys"}) {
    json h = Heartbeat();
    h.erase(field);
    ExpectReportRefused(h, field);
  }
  for (const char* field : {"credential_id", "kid_hash", "cause", "operation", "token"}) {
    SCOPED_TRACE(field);
    json h = Heartbeat();
    h[field] = Failure()[field];
    ExpectReportRefused(h, field);
  }
  for (const char* field : {"credential_id", "replaced_credential_id"}) {
    json e = Reenroll();
    e.erase(field);
    ExpectReportRefused(e, field);
  }
  json e = Reenroll();
  e["code"] = -3;
  ExpectReportRefused(e, "code");
}

TEST(FleetReport, HeartbeatKeyStatesAreClosed) {
  json h = Heartbeat();
  h["keys"] = {{"alice", 1}};
  ExpectReportRefused(h, "keys");
  h["keys"] = {{"healthy", -1}};
  ExpectReportRefused(h, "keys");
  h["keys"] = {{"healthy", kMaxKeyCount + 1}};
  ExpectReportRefused(h, "keys");
  h["keys"] = json::array();
  ExpectReportRefused(h, "keys");
}

TEST(FleetReport, BatchShapeIsChecked) {
  ExpectRefused(ParseBatch("not json"), kSchemaInvalid, "batch");
  ExpectRefused(ParseBatch("[]"), kSchemaInvalid, "batch");
  ExpectRefused(ParseBatch("\"\xff\""), kSchemaInvalid, "batch");
  ExpectRefused(ParseBatch(R"({"reports":[],"dropped":0})"), kSchemaInvalid, "sent_at");
  ExpectRefused(ParseBatch(R"({"reports":{},"sent_at":"2025-03-01T12:00:05Z","dropped":0})"), kSchemaInvalid,
                "reports");
  ExpectRefused(ParseBatch(R"({"reports":[],"sent_at":"2025-03-01T12:00:05Z","dropped":-1})"), kSchemaInvalid,
                "dropped");
  ExpectRefused(ParseBatch(R"({"reports":[],"sent_at":"yesterday","dropped":0})"), kSchemaInvalid, "sent_at");
  ExpectRefused(ParseBatch(R"({"reports":[[[[[1]]]]],"sent_at":"2025-03-01T12:00:05Z","dropped":0})"),
                kSchemaInvalid, "batch");
  // A key twice: another parser could read the other value.
  ExpectRefused(ParseBatch(R"({"reports":[],"reports":[],"sent_at":"2025-03-01T12:00:05Z","dropped":0})"),
                kSchemaInvalid, "batch");
  ExpectRefused(ParseBatch(BatchOf(json::array({Failure(), Failure()}))), kSchemaInvalid, "reports[1].id");
}

// The biggest report the schema allows, a thousand times, fits kMaxBatchBytes; one more is too many.
TEST(FleetReport, TheLargestValidBatchFitsTheLimits) {
  json big = Failure();
  for (const char* f :
       {"enclave_version", "os_id", "os_version", "kernel", "app_id", "app_version", "domain"}) {
    big[f] = std::string(64, 'A');
  }
  big["cause"] = std::string(64, 'a');
  big["operation"] = "webauthn-create";
  big["permanence"] = "needs-user-action";
  big["remedy"] = "enroll-biometry";
  big["code"] = INT64_MIN;
  big["credential_id"] = webauthn::Base64UrlEncode(std::vector<uint8_t>(kMaxCredentialIdBytes, 0xff));
  json reenroll = Reenroll();
  reenroll["credential_id"] = big["credential_id"];
  reenroll["replaced_credential_id"] = big["credential_id"];
  const size_t largest = std::max(big.dump().size(), reenroll.dump().size());
  EXPECT_LT(largest, 3600u);

  json reports = json::array();
  for (size_t i = 0; i < kMaxReports; ++i) {
    std::vector<uint8_t> id(16, 0);
    id[0] = uint8_t(i);
    id[1] = uint8_t(i >> 8);
    big["id"] = webauthn::Base64UrlEncode(id);
    reports.push_back(big);
  }
  std::string text = BatchOf(reports, INT64_C(1) << 53);
  EXPECT_LE(text.size(), kMaxBatchBytes);
  ASSERT_TRUE(ParseBatch(text).ok());

  big["id"] = webauthn::Base64UrlEncode(std::vector<uint8_t>(16, 0xee));
  reports.push_back(big);
  ExpectRefused(ParseBatch(BatchOf(reports)), kBatchTooLarge, "the batch has 1001 reports");
  ExpectRefused(ParseBatch(std::string(kMaxBatchBytes + 1, ' ')), kBatchTooLarge, "the batch has more than");
}

TEST(FleetTime, FormatsAndParsesRfc3339) {
  EXPECT_EQ(FormatTime(946684800), "2000-01-01T00:00:00Z");
  EXPECT_EQ(FormatTime(1709251199), "2024-02-29T23:59:59Z");
  EXPECT_EQ(*ParseTime("2024-02-29T23:59:59Z"), 1709251199);
  EXPECT_EQ(*ParseTime("9999-12-31T23:59:59Z"), 253402300799);
  for (int64_t t : {946684800LL, 951782400LL, 1740830405LL, 4102444800LL})
    EXPECT_EQ(*ParseTime(FormatTime(t)), t);
  for (const char* bad : {"2024-02-29 23:59:59Z", "2024-02-29T23:59:60Z", "2024-13-01T00:00:00Z",
                          "2024-00-01T00:00:00Z", "2024-04-31T00:00:00Z", "2024-02-29T23:59:59z",
                          "+024-02-29T23:59:59Z", "2024-02-29T23:59:59.5Z", ""}) {
    EXPECT_FALSE(ParseTime(bad).ok()) << bad;
  }
}

class FleetEnvelope : public ::testing::Test {
 protected:
  webauthn::testing::TestKey key_;
  std::string batch_ = BatchOf(json::array({Failure()}));

  Envelope Signed() const {
    Envelope env;
    env.device_key = key_.Cose();
    env.batch_bytes.assign(batch_.begin(), batch_.end());
    env.signature = key_.Sign(SignedBytes(env.batch_bytes));
    return env;
  }
};

TEST_F(FleetEnvelope, SignedBytesAreTheContextANulAndTheBatch) {
  std::vector<uint8_t> bytes = SignedBytes(std::vector<uint8_t>{'{', '}'});
  std::string expected("enclave-fleet-batch-v1\0{}", 25);
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), expected);
}

TEST_F(FleetEnvelope, ASignedEnvelopeRoundTripsAndVerifies) {
  auto env = ParseEnvelope(SerializeEnvelope(Signed()));
  ASSERT_TRUE(env.ok()) << env.error().description;
  EXPECT_TRUE(VerifyEnvelope(*env).ok());
  EXPECT_EQ(env->device_key, key_.Cose());
  EXPECT_TRUE(ParseBatch(env->batch_bytes).ok());
  EXPECT_EQ(DeviceKeyHash(env->device_key), webauthn::Base64UrlEncode(webauthn::Sha256(key_.Cose())));
  EXPECT_EQ(DeviceKeyHash(env->device_key).size(), 43u);
}

TEST_F(FleetEnvelope, AnyChangeBreaksTheSignature) {
  Envelope env = Signed();
  env.batch_bytes.back() = ' ';
  EXPECT_EQ(VerifyEnvelope(env).error().cause, kSignatureInvalid);

  env = Signed();
  webauthn::testing::TestKey other;
  env.device_key = other.Cose();
  EXPECT_EQ(VerifyEnvelope(env).error().cause, kSignatureInvalid);

  // A signature over the bare batch (no context) is not a batch signature.
  env = Signed();
  env.signature = key_.Sign(env.batch_bytes);
  EXPECT_EQ(VerifyEnvelope(env).error().cause, kSignatureInvalid);
}

TEST_F(FleetEnvelope, MalformedEnvelopesAreRefused) {
  json good = json::parse(SerializeEnvelope(Signed()));
  auto refused = [](const json& doc, std::string_view field) {
    auto r = ParseEnvelope(doc.dump());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().cause, kSchemaInvalid);
    EXPECT_EQ(r.error().description.rfind(field, 0), 0u) << r.error().description;
  };
  for (const char* f : {"device_key", "batch", "signature"}) {
    json d = good;
    d.erase(f);
    refused(d, f);
    d = good;
    d[f] = "not base64!";
    refused(d, f);
    d = good;
    d[f] = "";
    refused(d, f);
    d = good;
    d[f] = 12;
    refused(d, f);
  }
  json d = good;
  d["device_key"] = "AAAA";
  refused(d, "device_key");
  d = good;
  d["reports"] = json::array();
  refused(d, "envelope");
  d = good;
  d["signature"] = webauthn::Base64UrlEncode(std::vector<uint8_t>(80, 1));
  refused(d, "signature");
  EXPECT_EQ(ParseEnvelope(std::string(kMaxEnvelopeBytes + 1, ' ')).error().cause, kBatchTooLarge);
}

}  // namespace
}  // namespace enclave::fleet
