#include "daemon/sign_run.h"

#include "daemon/codec.h"
#include "daemon/dispatch.h"

namespace enclave::daemon {
namespace {

bool Plain(const wire::Request& request) {
  if (request.op_case() != wire::Request::kSign) return false;
  const wire::AuthOptions& auth = request.sign().auth();
  return !auth.has_context_id() && !auth.has_passcode() && !auth.has_application_password();
}

}  // namespace

bool SignRun::Starts(const wire::Request& request) { return Plain(request); }

void SignRun::Begin(wire::Request* first) {
  size_ = 0;
  key_ = first->sign().key().SerializeAsString();
  Add(first);
}

bool SignRun::Continues(const wire::Request& next) const {
  return Plain(next) && next.sign().key().SerializeAsString() == key_;
}

void SignRun::Add(wire::Request* next) {
  if (size_ == requests_.size()) {
    requests_.emplace_back();
    responses_.emplace_back();
    entries_.emplace_back();
    starts_.emplace_back();
  }
  requests_[size_].Swap(next);
  ++size_;
}

void SignRun::ServeOne(Api& session, const RequestLogEntry& base, size_t i) {
  starts_[i] = std::chrono::steady_clock::now();
  entries_[i] = base;
  entries_[i].request = RequestKind(requests_[i]);
  responses_[i] = Dispatch(session, requests_[i], &entries_[i]);
  WipeSecrets(&requests_[i]);
}

void SignRun::Serve(Api& session, const RequestLogEntry& base, HelperPool& helpers) {
  ServeOne(session, base, 0);
  const bool plain_signing = !responses_[0].has_error() && !responses_[0].operation().prompted();
  if (!plain_signing) {
    for (size_t i = 1; i < size_; ++i) ServeOne(session, base, i);
    return;
  }
  helpers.ForEachShared(size_ - 1, [&](size_t i) { ServeOne(session, base, i + 1); });
}

}  // namespace enclave::daemon
