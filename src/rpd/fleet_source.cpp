#include "rpd/fleet_source.h"

namespace enclave::rpd {
namespace {

class BackendFleetSource final : public dashboard::FleetSource {
 public:
  explicit BackendFleetSource(std::shared_ptr<Backend> b) : backend_(std::move(b)) {}

  Result<nlohmann::json> Summary(const std::string& since, const std::string& until) override {
    Backend::Query q;
    if (!since.empty()) q["since"] = since;
    if (!until.empty()) q["until"] = until;
    return backend_->FleetSummary(q);
  }
  Result<nlohmann::json> Issues() override { return backend_->FleetIssues(); }
  Result<nlohmann::json> Issue(const std::string& id) override { return backend_->FleetIssue(id, {}); }

 private:
  std::shared_ptr<Backend> backend_;
};

}  // namespace

std::shared_ptr<dashboard::FleetSource> FleetSourceOf(std::shared_ptr<Backend> backend) {
  return std::make_shared<BackendFleetSource>(std::move(backend));
}

}  // namespace enclave::rpd
