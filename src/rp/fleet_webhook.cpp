#include "rp/fleet_webhook.h"

#include <curl/curl.h>

#include <chrono>
#include <memory>

namespace enclave::rp {
namespace {

struct EasyCleanup {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct ListFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

}  // namespace

Webhook::Webhook(WebhookOptions options) : options_(std::move(options)) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  thread_ = std::thread([this] { Run(); });
}

Webhook::~Webhook() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Webhook::Post(const nlohmann::json& alert) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= options_.max_queued) {
      ++dropped_;
      return;
    }
    queue_.push_back(alert.dump());
  }
  cv_.notify_one();
}

nlohmann::json Webhook::Counters() const {
  std::lock_guard lock(mu_);
  return {{"sent", sent_}, {"failed", failed_}, {"dropped", dropped_}};
}

bool Webhook::Send(const std::string& body) {
  std::unique_ptr<CURL, EasyCleanup> curl(curl_easy_init());
  if (!curl) return false;
  std::unique_ptr<curl_slist, ListFree> headers(curl_slist_append(nullptr, "Content-Type: application/json"));
  curl_easy_setopt(curl.get(), CURLOPT_URL, options_.url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, options_.timeout_ms);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, Discard);
  if (curl_easy_perform(curl.get()) != CURLE_OK) return false;
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  return status >= 200 && status < 300;
}

void Webhook::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    std::string body = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    bool ok = false;
    for (int attempt = 0; attempt < options_.attempts && !ok; ++attempt) {
      if (attempt > 0) {
        std::unique_lock wait(mu_);
        if (cv_.wait_for(wait, std::chrono::seconds(attempt), [this] { return stopping_; })) return;
      }
      ok = Send(body);
    }
    lock.lock();
    ++(ok ? sent_ : failed_);
  }
}

}  // namespace enclave::rp
