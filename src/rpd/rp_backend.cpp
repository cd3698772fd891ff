#include "rpd/rp_backend.h"

#include "rp/store/store.h"
#include "rp/time.h"

namespace enclave::rpd {
namespace {

using nlohmann::json;

// The credential a request names: a ceremony's credential.id, a dead report's credential_id.
std::optional<std::string> NamedCredential(const json& body) {
  if (auto c = body.find("credential"); c != body.end() && c->is_object()) {
    if (auto id = c->find("id"); id != c->end() && id->is_string()) return id->get<std::string>();
  }
  if (auto id = body.find("credential_id"); id != body.end() && id->is_string())
    return id->get<std::string>();
  return std::nullopt;
}

// The relying party's own reasons: the store's failures are not the client's doing and are not
// counted as refusals.
bool IsRefusal(const std::string& reason) {
  return !reason.empty() && reason.rfind("store-", 0) != 0 && rp::HttpStatusOf(reason) < 500;
}

class RpBackend final : public Backend {
 public:
  RpBackend(std::unique_ptr<rp::RelyingParty> rp, rp::Store& store, FleetOptions options)
      : rp_(std::move(rp)) {
    if (options.webhook) webhook_ = std::make_unique<rp::Webhook>(*options.webhook);
    rp::AlertSink sink;
    if (webhook_) sink = [w = webhook_.get()](const json& alert) { w->Post(alert); };
    fleet_ = std::make_unique<rp::Fleet>(
        options.config, store, [] { return rp::NowMs() / 1000; }, std::move(sink));
    fleet_->StartWorker(options.maintain_every_seconds);
  }

  Result<json> RegistrationOptions(const json& body) override {
    return Noted(rp_->RegistrationOptions(body), body);
  }
  Result<json> FinishRegistration(const json& body) override {
    auto r = rp_->FinishRegistration(body);
    if (r.ok() && r->value("status", "") == "rebound") fleet_->NoteRebind(r->value("credential_id", ""));
    return Noted(std::move(r), body);
  }
  Result<json> AuthenticationOptions(const json& body) override {
    return Noted(rp_->AuthenticationOptions(body), body);
  }
  Result<json> FinishAuthentication(const json& body) override {
    auto r = rp_->FinishAuthentication(body);
    if (r.ok()) fleet_->NoteLogin(r->value("credential_id", ""));
    return Noted(std::move(r), body);
  }
  Result<json> UserCredentials(const std::string& user) override { return rp_->UserCredentials(user); }
  Status DeleteCredential(const std::string& id) override { return rp_->DeleteCredential(id); }
  Result<json> ApproveStepUp(const std::string& id) override { return rp_->ApproveStepUp(id); }
  Result<json> ReportDead(const json& body) override { return Noted(rp_->ReportDead(body), body); }
  json Metrics() const override {
    json m = rp_->Metrics();
    if (webhook_) m["fleet_webhook"] = webhook_->Counters();
    return m;
  }
  Status Healthy() override { return rp_->Healthy(); }
  // The relying party's table: a fleet ingest refusal carries its own status (a report batch's bad
  // signature is 401, a dead-key report's is the relying party's 400), so it is not looked up here.
  int StatusOf(const std::string& reason) const override { return rp::HttpStatusOf(reason); }

  Result<json> IngestReports(const std::string& body) override { return fleet_->Ingest(body); }
  Result<json> FleetSummary(const Query& q) override { return fleet_->Summary(q); }
  Result<json> FleetIssues() override { return fleet_->Issues(); }
  Result<json> FleetIssue(const std::string& id, const Query& q) override { return fleet_->Issue(id, q); }
  Result<json> FleetResolve(const std::string& id) override { return fleet_->Resolve(id); }
  Result<Export> FleetExport(const Query& q) override {
    ASSIGN_OR_RETURN(auto e, fleet_->Export(q));
    return Export{std::move(e.content_type), std::move(e.body), e.truncated};
  }

 private:
  // Every refusal of the relying party is counted in the fleet view with source `server`, under
  // the credential the request named (the fleet view attributes it only if the server knows it).
  Result<json> Noted(Result<json> r, const json& body) {
    if (!r.ok() && IsRefusal(r.error().cause)) fleet_->NoteRefusal(r.error().cause, NamedCredential(body));
    return r;
  }

  std::unique_ptr<rp::RelyingParty> rp_;
  std::unique_ptr<rp::Webhook> webhook_;
  std::unique_ptr<rp::Fleet> fleet_;  // declared last: stopped first, before the store goes
};

}  // namespace

Result<std::shared_ptr<Backend>> OpenRelyingParty(rp::Config config, const std::string& db_url,
                                                  FleetOptions fleet) {
  ASSIGN_OR_RETURN(auto store, rp::OpenStore(db_url));
  rp::Store& shared = *store;  // owned by the relying party, which outlives the fleet view
  ASSIGN_OR_RETURN(auto party, rp::RelyingParty::Create(std::move(config), std::move(store)));
  return std::shared_ptr<Backend>(std::make_shared<RpBackend>(std::move(party), shared, std::move(fleet)));
}

}  // namespace enclave::rpd
