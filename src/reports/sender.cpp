#include "reports/sender.h"

#include <algorithm>
#include <thread>

#include "crypto/ec.h"
#include "fleet/report.h"
#include "rpclient/device_key.h"
#include "webauthn/cose.h"

namespace enclave::reports {
namespace {

using Clock = std::chrono::steady_clock;

Result<KeyInfo> DeviceKey(Api& api) {
  KeyQuery q;
  q.application_label = ToBytes(rpclient::kDeviceKeyLabel);
  auto keys = api.FindKeys(q);
  if (!keys.ok() || keys->empty()) {
    return OSStatusError(
               errsec::kItemNotFound,
               "this enclave has no device identity key: no key was registered with a relying party, "
               "so no server would accept its reports")
        .WithCause("item-not-found");
  }
  return std::move(keys->front());
}

// The envelope of `batch_bytes`, signed by the device key in the daemon. The digest is taken here
// and signed as one: a batch may exceed what one request to the daemon carries.
Result<std::string> Envelope(Api& api, const KeyInfo& device, const std::string& batch_bytes) {
  const auto bytes = std::span(reinterpret_cast<const uint8_t*>(batch_bytes.data()), batch_bytes.size());
  const std::vector<uint8_t> signed_bytes = fleet::SignedBytes(bytes);
  const Bytes digest =
      crypto::Digest(crypto::Hash::kSha256, ByteView(signed_bytes.data(), signed_bytes.size()));
  KeyQuery q;
  q.kid = device.kid;
  q.application_label = device.application_label;
  AuthOptions auth;
  auth.interaction_allowed = false;  // the device key asks nobody; a sender never prompts
  ASSIGN_OR_RETURN(OperationResult sig, api.Sign(q, "ecdsa-signature-digest-x962-sha256", digest, auth));
  ASSIGN_OR_RETURN(auto cose, webauthn::EncodeCoseEs256FromX962(device.public_key_x963));
  fleet::Envelope e;
  e.device_key = std::move(cose);
  e.batch_bytes.assign(bytes.begin(), bytes.end());
  e.signature.assign(sig.output.begin(), sig.output.end());
  return fleet::SerializeEnvelope(e);
}

struct Answer {
  long status = 0;
  std::string reason;
  nlohmann::json doc;
};

Answer Read(const rpclient::HttpResponse& r) {
  Answer a;
  a.status = r.status;
  a.doc = nlohmann::json::parse(r.body, nullptr, false);
  if (a.doc.is_object() && a.doc.contains("error") && a.doc["error"].is_object()) {
    a.reason = a.doc["error"].value("reason", std::string());
  }
  if (a.reason.empty() && (a.status < 200 || a.status > 299)) a.reason = "http-" + std::to_string(a.status);
  return a;
}

bool Retryable(long status) { return status == 0 || status == 408 || status == 429 || status >= 500; }

std::vector<std::string> Strings(const nlohmann::json& doc, const char* key) {
  std::vector<std::string> out;
  if (!doc.is_object() || !doc.contains(key) || !doc[key].is_array()) return out;
  for (const auto& v : doc[key]) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

Status Settle(Api& api, const std::vector<std::string>& ids, const char* result, const std::string& reason,
              int64_t dropped) {
  if (ids.empty() && dropped == 0) return Ok();
  nlohmann::json args = {{"ids", ids}, {"result", result}, {"dropped", dropped}};
  if (!reason.empty()) args["reason"] = reason;
  auto r = api.Admin("reports.settle", args, {});
  if (!r.ok()) return std::move(r).error();
  return Ok();
}

}  // namespace

nlohmann::json SendSummary::ToJson() const {
  return {{"enabled", enabled},   {"server", server},         {"batches", batches},
          {"accepted", accepted}, {"duplicates", duplicates}, {"expired", expired},
          {"refused", refused},   {"attempts", attempts},     {"queued", queued}};
}

Result<SendSummary> SendQueued(Api& api, const SendOptions& options) {
  SendSummary summary;
  const auto deadline = Clock::now() + options.give_up_after;
  auto backoff = options.first_backoff;
  size_t batch_size = fleet::kMaxReports;
  auto keep_going = [&] { return !options.keep_going || options.keep_going(); };
  // Waits out `pause` in short steps, so that a sender whose daemon stopped ends soon.
  auto wait = [&](std::chrono::milliseconds pause) {
    const auto until = Clock::now() + pause;
    while (Clock::now() < until && keep_going()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  };
  while (keep_going()) {
    ASSIGN_OR_RETURN(nlohmann::json take, api.Admin("reports.take", {{"max", batch_size}}, {}));
    summary.enabled = take.value("enabled", false);
    if (!summary.enabled) break;
    summary.server = take.value("server", std::string());
    const int64_t dropped = take.value("dropped", int64_t{0});
    fleet::Batch batch;
    batch.dropped = dropped;
    std::vector<std::string> ids;
    for (const auto& j : take.value("reports", nlohmann::json::array())) {
      ASSIGN_OR_RETURN(fleet::Report r, fleet::ParseReport(j));
      ids.push_back(r.id);
      batch.reports.push_back(std::move(r));
    }
    summary.queued = take.value("queued", int64_t{0});
    if (ids.empty() && dropped == 0) break;
    batch.sent_at =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    ASSIGN_OR_RETURN(KeyInfo device, DeviceKey(api));
    ASSIGN_OR_RETURN(std::string body, Envelope(api, device, fleet::SerializeBatch(batch)));
    ++summary.attempts;
    auto posted = rpclient::PostJson(rpclient::JoinUrl(summary.server, "/v1/reports"), body, options.http);
    Answer answer;
    std::optional<Error> failure;
    if (posted.ok()) {
      answer = Read(*posted);
    } else {
      failure = posted.error();
      if (failure->domain != rpclient::kRelyingPartyDomain)
        return *failure;  // a bad URL: retrying won't help
    }
    if (failure || Retryable(answer.status)) {
      if (!failure) {
        failure = rpclient::RelyingPartyError(
            answer.status, answer.reason,
            "the report server answered " + std::to_string(answer.status) + " (" + answer.reason + ")");
      }
      if (!options.until_empty || Clock::now() + backoff > deadline) return *failure;
      wait(backoff);
      backoff = std::min(backoff * 2, options.max_backoff);
      continue;
    }
    backoff = options.first_backoff;
    if (answer.status >= 200 && answer.status <= 299) {
      const auto accepted = Strings(answer.doc, "accepted");
      const auto duplicates = Strings(answer.doc, "duplicates");
      const auto expired = Strings(answer.doc, "expired");
      std::vector<std::string> known;
      for (const auto& id : ids) {
        for (const auto* list : {&accepted, &duplicates, &expired}) {
          if (std::find(list->begin(), list->end(), id) != list->end()) {
            known.push_back(id);
            break;
          }
        }
      }
      // An answer that names none of what was sent would have the sender resend forever.
      if (known.size() != ids.size()) {
        return rpclient::RelyingPartyError(
            0, "server-answer-malformed",
            "the report server's 2xx answer does not account for every report sent");
      }
      RETURN_IF_ERROR(Settle(api, accepted, "accepted", "", dropped));
      RETURN_IF_ERROR(Settle(api, duplicates, "duplicate", "", 0));
      // Older than the server keeps raw reports (a device offline for months): not resent.
      RETURN_IF_ERROR(Settle(api, expired, "expired", "", 0));
      ++summary.batches;
      summary.accepted += static_cast<int64_t>(accepted.size());
      summary.duplicates += static_cast<int64_t>(duplicates.size());
      summary.expired += static_cast<int64_t>(expired.size());
      batch_size = std::min(fleet::kMaxReports, batch_size * 2);
      continue;
    }
    // One report the schema refuses refuses its whole batch: halve until it is alone, then keep
    // it in the sent log as refused rather than resend it forever.
    if ((answer.status == 400 && answer.reason == fleet::kSchemaInvalid) ||
        (answer.status == 413 && answer.reason == fleet::kBatchTooLarge)) {
      if (ids.size() > 1) {
        batch_size = std::max<size_t>(1, ids.size() / 2);
        continue;
      }
      RETURN_IF_ERROR(Settle(api, ids, "refused", answer.reason, 0));
      ++summary.refused;
      continue;
    }
    // Unknown device, a bad signature or anything else: the reports stay for the next run.
    return rpclient::RelyingPartyError(answer.status, answer.reason,
                                       "the report server refused the batch: " + answer.reason)
        .WithInfo("reason", answer.reason)
        .WithInfo("http_status", answer.status);
  }
  return summary;
}

}  // namespace enclave::reports
