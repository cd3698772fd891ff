// The Backend the binary serves: enclave::rp's RelyingParty on the store named by --db, with the
// fleet view beside it on the same store (fed by POST /v1/reports and by the relying party's own
// outcomes, which it counts with source `server`).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/result.h"
#include "rp/fleet.h"
#include "rp/fleet_webhook.h"
#include "rp/relying_party.h"
#include "rpd/backend.h"

namespace enclave::rpd {

struct FleetOptions {
  rp::FleetConfig config;
  std::optional<rp::WebhookOptions> webhook;  // --fleet-webhook
  int maintain_every_seconds = 15;
};

Result<std::shared_ptr<Backend>> OpenRelyingParty(rp::Config config, const std::string& db_url,
                                                  FleetOptions fleet = {});

}  // namespace enclave::rpd
