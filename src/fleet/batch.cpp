// Batches, the signed envelope, the time format and the shared checks of the fleet format.
#include <algorithm>
#include <set>

#include "common/json_depth.h"
#include "fleet/report.h"
#include "fleet/schema_util.h"
#include "webauthn/base64url.h"
#include "webauthn/cose.h"

namespace enclave::fleet {
namespace {

using nlohmann::json;

// {"reports":[{"keys":{...}}]} is four levels; nothing valid is deeper.
constexpr size_t kMaxDepth = 4;
constexpr int64_t kMaxDropped = int64_t{1} << 53;
constexpr size_t kMaxDeviceKeyBytes = 1024;
constexpr size_t kMaxSignatureBytes = 72;  // DER of two 33-byte integers

Error TooLarge(std::string message) {
  return OSStatusError(errsec::kParam, std::move(message)).WithCause(kBatchTooLarge);
}

// A strict JSON parse: valid UTF-8, depth bounded, no key twice in one object (a second value for
// a key is exactly what two parsers could read differently).
Result<json> StrictParse(std::string_view text, std::string_view what) {
  if (!JsonDepthWithin(text, kMaxDepth)) return SchemaError(what, "is nested deeper than the schema");
  std::vector<std::set<std::string>> keys;
  bool duplicate = false;
  auto callback = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      keys.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      if (!keys.empty()) keys.pop_back();
    } else if (event == json::parse_event_t::key && !keys.empty()) {
      if (!keys.back().insert(parsed.get<std::string>()).second) duplicate = true;
    }
    return true;
  };
  json doc = json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return SchemaError(what, "is not valid JSON (UTF-8)");
  if (duplicate) return SchemaError(what, "has a key twice in one object");
  if (!doc.is_object()) return SchemaError(what, "must be a JSON object");
  return doc;
}

Status OnlyKeys(const json& doc, std::string_view what, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : doc.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return SchemaError(what, "has a key outside the schema");
    }
  }
  for (std::string_view key : allowed) {
    if (!doc.contains(std::string(key))) return SchemaError(key, "is required");
  }
  return Ok();
}

Result<std::vector<uint8_t>> Base64Field(const json& doc, const char* key, size_t max_bytes) {
  const json& v = doc.at(key);
  if (!v.is_string()) return SchemaError(key, "must be a base64url string");
  const auto& text = v.get_ref<const std::string&>();
  if (text.size() > (max_bytes * 4 + 2) / 3) return SchemaError(key, "is too long");
  auto bytes = webauthn::Base64UrlDecode(text);
  if (!bytes.ok()) return SchemaError(key, "is not base64url");
  if (bytes->empty()) return SchemaError(key, "is empty");
  return std::move(bytes).value();
}

int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = y / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

}  // namespace

Error SchemaError(std::string_view field, std::string_view what) {
  return OSStatusError(errsec::kDecode, std::string(field) + ": " + std::string(what))
      .WithCause(kSchemaInvalid);
}

Error Prefixed(Error error, std::string_view prefix) {
  error.description = std::string(prefix) + error.description;
  return error;
}

bool OneOf(const std::vector<std::string_view>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

bool IsDomainChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}
bool IsIdentifierChar(char c) { return IsDomainChar(c) || c == '+' || c == '~' || c == ':'; }
bool IsCauseChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

Status CheckCharset(std::string_view field, std::string_view value, size_t max_bytes,
                    std::string_view set_text, bool (*ok)(char)) {
  if (value.empty() || value.size() > max_bytes || !std::all_of(value.begin(), value.end(), ok)) {
    return SchemaError(field,
                       "must be 1.." + std::to_string(max_bytes) + " of [" + std::string(set_text) + "]");
  }
  return Ok();
}

Status CheckIdentifier(std::string_view field, std::string_view value) {
  return CheckCharset(field, value, kMaxIdentifierBytes, "A-Za-z0-9._+~:-", IsIdentifierChar);
}

std::string FormatTime(int64_t t) {
  int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  int64_t secs = t - days * 86400;
  // civil_from_days (Howard Hinnant's algorithm).
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp + (mp < 10 ? 3 : -9);
  const int64_t y = yoe + era * 400 + (m <= 2);
  char buf[96];
  snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ", static_cast<long long>(y),
           static_cast<long long>(m), static_cast<long long>(d), static_cast<long long>(secs / 3600),
           static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60));
  return buf;
}

Result<int64_t> ParseTime(std::string_view s) {
  auto bad = [] { return SchemaError("time", "must be YYYY-MM-DDTHH:MM:SSZ"); };
  if (s.size() != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
      s[19] != 'Z') {
    return bad();
  }
  auto num = [&](size_t at, size_t len, int64_t& out) {
    out = 0;
    for (size_t i = at; i < at + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int64_t y, mo, d, h, mi, sec;
  if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) || !num(14, 2, mi) ||
      !num(17, 2, sec)) {
    return bad();
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (y < 2000 || mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] + (mo == 2 && leap) || h > 23 || mi > 59 ||
      sec > 59) {
    return bad();
  }
  return DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
}

Result<Batch> ParseBatch(std::string_view text) {
  if (text.size() > kMaxBatchBytes) {
    return TooLarge("the batch has more than " + std::to_string(kMaxBatchBytes) + " bytes");
  }
  ASSIGN_OR_RETURN(json doc, StrictParse(text, "batch"));
  RETURN_IF_ERROR(OnlyKeys(doc, "batch", {"reports", "sent_at", "dropped"}));
  const json& reports = doc["reports"];
  if (!reports.is_array()) return SchemaError("reports", "must be an array");
  if (reports.size() > kMaxReports) {
    return TooLarge("the batch has " + std::to_string(reports.size()) + " reports, more than " +
                    std::to_string(kMaxReports));
  }
  Batch batch;
  const json& sent_at = doc["sent_at"];
  if (!sent_at.is_string()) return SchemaError("sent_at", "must be an RFC 3339 string");
  auto t = ParseTime(sent_at.get<std::string>());
  if (!t.ok()) return SchemaError("sent_at", "must be YYYY-MM-DDTHH:MM:SSZ");
  batch.sent_at = *t;
  const json& dropped = doc["dropped"];
  if (!dropped.is_number_integer() || dropped.get<int64_t>() < 0 || dropped.get<int64_t>() > kMaxDropped) {
    return SchemaError("dropped", "must be an integer 0..2^53");
  }
  batch.dropped = dropped.get<int64_t>();
  std::set<std::string> ids;
  batch.reports.reserve(reports.size());
  for (size_t i = 0; i < reports.size(); ++i) {
    auto report = ParseReport(reports[i]);
    const std::string where = "reports[" + std::to_string(i) + "].";
    if (!report.ok()) return Prefixed(std::move(report).error(), where);
    if (!ids.insert(report->id).second) return SchemaError(where + "id", "appears twice in the batch");
    batch.reports.push_back(std::move(report).value());
  }
  return batch;
}

Result<Batch> ParseBatch(std::span<const uint8_t> bytes) {
  return ParseBatch(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::string SerializeBatch(const Batch& batch) {
  json reports = json::array();
  for (const Report& r : batch.reports) reports.push_back(ReportToJson(r));
  return json{
      {"reports", std::move(reports)}, {"sent_at", FormatTime(batch.sent_at)}, {"dropped", batch.dropped}}
      .dump();
}

std::vector<uint8_t> SignedBytes(std::span<const uint8_t> batch_bytes) {
  std::vector<uint8_t> out(kBatchContext, kBatchContext + sizeof(kBatchContext) - 1);
  out.push_back(0);
  out.insert(out.end(), batch_bytes.begin(), batch_bytes.end());
  return out;
}

Result<Envelope> ParseEnvelope(std::string_view body) {
  if (body.size() > kMaxEnvelopeBytes) {
    return TooLarge("the request has more than " + std::to_string(kMaxEnvelopeBytes) + " bytes");
  }
  ASSIGN_OR_RETURN(json doc, StrictParse(body, "envelope"));
  RETURN_IF_ERROR(OnlyKeys(doc, "envelope", {"device_key", "batch", "signature"}));
  Envelope env;
  ASSIGN_OR_RETURN(env.device_key, Base64Field(doc, "device_key", kMaxDeviceKeyBytes));
  if (!webauthn::ParseCoseKey(env.device_key).ok())
    return SchemaError("device_key", "is not a COSE ES256 key");
  const json& batch = doc["batch"];
  if (batch.is_string() && batch.get_ref<const std::string&>().size() > (kMaxBatchBytes * 4 + 2) / 3) {
    return TooLarge("the batch has more than " + std::to_string(kMaxBatchBytes) + " bytes");
  }
  ASSIGN_OR_RETURN(env.batch_bytes, Base64Field(doc, "batch", kMaxBatchBytes));
  ASSIGN_OR_RETURN(env.signature, Base64Field(doc, "signature", kMaxSignatureBytes));
  return env;
}

std::string SerializeEnvelope(const Envelope& env) {
  return json{{"device_key", webauthn::Base64UrlEncode(env.device_key)},
              {"batch", webauthn::Base64UrlEncode(env.batch_bytes)},
              {"signature", webauthn::Base64UrlEncode(env.signature)}}
      .dump();
}

Status VerifyEnvelope(const Envelope& env) {
  auto key = webauthn::CoseToEvpPkey(env.device_key);
  if (!key.ok() || !webauthn::VerifyEs256(key->get(), SignedBytes(env.batch_bytes), env.signature)) {
    return OSStatusError(errsec::kVerifyFailed, "the batch signature does not verify under the device key")
        .WithCause(kSignatureInvalid);
  }
  return Ok();
}

std::string DeviceKeyHash(std::span<const uint8_t> device_key) {
  return webauthn::Base64UrlEncode(webauthn::Sha256(device_key));
}

}  // namespace enclave::fleet
