// The session loop follows Beast's http_server_async example (read, handle, write, repeat), with
// the header read apart from the body so that limits and `Expect: 100-continue` are decided
// before a byte of body is accepted, and with the handling moved to a worker pool.
#include "rpd/server.h"

#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <list>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "rpd/router.h"

namespace enclave::rpd {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// After an answer that closes a connection whose request was not read to its end (a body over
// the limit), the unread bytes are drained for a while before the close: closing with data
// still unread makes the kernel send a reset, which can destroy the answer before the client
// reads it.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerBytes = 8 * 1024 * 1024;

class SessionBase;
struct Entry;

// Per-connection bookkeeping the registry and the session share; `registered` and `it` are
// guarded by the registry's mutex.
struct ConnState {
  std::atomic<bool> idle{true};
  bool registered = false;
  std::list<Entry>::iterator it;
};

struct Entry {
  std::weak_ptr<SessionBase> session;
  std::shared_ptr<ConnState> state;
};

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  virtual void Evict() = 0;
};

// The connections held, oldest first, so that a full server makes room by closing the longest
// held of those only waiting for a request (a thousand idle or slowloris connections then cost
// their owner their place, not others theirs).
class Registry {
 public:
  Registry(size_t max, Metrics& metrics) : max_(max), metrics_(metrics) {}

  bool Add(const std::shared_ptr<SessionBase>& s, const std::shared_ptr<ConnState>& state) {
    std::weak_ptr<SessionBase> victim;
    {
      std::lock_guard lock(mu_);
      if (list_.size() >= max_) {
        for (auto it = list_.begin(); it != list_.end(); ++it) {
          if (it->state->idle.load()) {
            victim = it->session;
            it->state->registered = false;
            list_.erase(it);
            break;
          }
        }
        if (victim.expired() && list_.size() >= max_) return false;
      }
      state->it = list_.insert(list_.end(), Entry{s, state});
      state->registered = true;
    }
    // Outside the lock: the victim's last reference may go here, and its destructor takes it.
    if (auto v = victim.lock()) {
      ++metrics_.connections_evicted;
      v->Evict();
    }
    return true;
  }

  void Remove(ConnState& state) {
    std::lock_guard lock(mu_);
    if (state.registered) {
      list_.erase(state.it);
      state.registered = false;
    }
  }

 private:
  size_t max_;
  Metrics& metrics_;
  std::mutex mu_;
  std::list<Entry> list_;
};

struct Shared {
  ServerOptions options;
  std::shared_ptr<Api> api;
  net::thread_pool pool;
  Registry registry;

  Shared(ServerOptions o, std::shared_ptr<Api> a)
      : options(std::move(o)),
        api(std::move(a)),
        pool(static_cast<size_t>(std::max(1, options.workers))),
        registry(options.max_connections, api->metrics()) {}
};

template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  template <class... Args>
  Session(Shared& shared, tcp::socket&& socket, Args&&... args)
      : stream_(std::move(socket), std::forward<Args>(args)...),
        timer_(stream_.get_executor()),
        shared_(shared),
        state_(std::make_shared<ConnState>()) {
    beast::error_code ec;
    auto peer = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) remote_ = peer.address().to_string();
    ++shared_.api->metrics().connections_open;
    ++shared_.api->metrics().connections_total;
  }

  ~Session() override {
    shared_.registry.Remove(*state_);
    --shared_.api->metrics().connections_open;
  }

  bool Register() { return shared_.registry.Add(this->shared_from_this(), state_); }

  void Run() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->Start(); });
  }

  void Evict() override {
    net::post(stream_.get_executor(),
              [self = this->shared_from_this()] { beast::get_lowest_layer(self->stream_).close(); });
  }

 private:
  auto& Lowest() { return beast::get_lowest_layer(stream_); }

  void Start() {
    if constexpr (kTls) {
      Lowest().expires_after(shared_.options.request_timeout);
      stream_.async_handshake(ssl::stream_base::server, buffer_.data(),
                              [self = this->shared_from_this()](beast::error_code ec, size_t used) {
                                if (ec) return self->Failed(ec);
                                self->buffer_.consume(used);
                                self->ReadHeader();
                              });
    } else {
      ReadHeader();
    }
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(shared_.options.header_limit));
    // Beast checks a declared length against the limit while it reads the header, before the route
    // is known: the larger limit for now, each route's own once the header is in (OnHeader).
    parser_->body_limit(std::max(shared_.options.body_limit, shared_.options.reports_body_limit));
    limit_ = shared_.options.body_limit;
    method_ = "-";
    route_ = "unmatched";
    version_ = 11;
    state_->idle = true;
    // One deadline for the whole request, header and body, set once here: a sender that trickles
    // bytes (slowloris) gets no more time than one that sends nothing.
    Lowest().expires_after(shared_.options.request_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  // What the log and metrics say about a request whose header was read (a route template).
  void NoteHeader() {
    start_ = Clock::now();
    const auto& h = parser_->get();
    method_ = std::string(h.method_string());
    version_ = h.version();
    if (auto r = MatchRoute(h.target())) route_ = r->pattern;
  }

  void OnHeader(beast::error_code ec) {
    state_->idle = false;
    start_ = Clock::now();
    if (ec) {
      // A declared length over the limit is found before the header is done, once the start line
      // (the route) is in: the route still names the reason and the limit.
      if (parser_->is_header_done() || ec == http::error::body_limit) NoteHeader();
      if (ec == http::error::body_limit && route_ == "/v1/reports")
        limit_ = shared_.options.reports_body_limit;
      return ReadFailed(ec);
    }
    NoteHeader();
    const auto& h = parser_->get();
    if (route_ == "/v1/reports") limit_ = shared_.options.reports_body_limit;
    parser_->body_limit(limit_);
    if (auto len = parser_->content_length(); len && *len > limit_) {
      return Respond(Api::Error(413, LimitReason(), BodyLimitText()), /*linger=*/true);
    }
    auto expect = h[http::field::expect];
    if (!expect.empty() && beast::iequals(expect, "100-continue")) {
      continue_ = {http::status::continue_, h.version()};
      http::async_write(stream_, continue_, [self = this->shared_from_this()](beast::error_code wec, size_t) {
        if (wec) return self->Failed(wec);
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->ReadFailed(ec);
                       self->Handle();
                     });
  }

  std::string BodyLimitText() const { return "the body is over " + std::to_string(limit_) + " bytes"; }
  // A report batch over its limit has the fleet view's reason (docs/fleet.md).
  std::string LimitReason() const {
    return route_ == "/v1/reports" ? "batch-too-large" : "payload-too-large";
  }

  void ReadFailed(beast::error_code ec) {
    if (ec == http::error::header_limit) {
      return Respond(
          Api::Error(431, "headers-too-large",
                     "the header is over " + std::to_string(shared_.options.header_limit) + " bytes"),
          true);
    }
    if (ec == http::error::body_limit) return Respond(Api::Error(413, LimitReason(), BodyLimitText()), true);
    if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return Respond(Api::Error(400, "malformed", "not a valid HTTP/1.1 request"), true);
    }
    Failed(ec);
  }

  void Failed(beast::error_code ec) {
    if (ec == beast::error::timeout) ++shared_.api->metrics().connections_timed_out;
    // The stream is closed when the last handler lets go of the session.
  }

  void Handle() {
    const auto& h = parser_->get();
    Request req;
    req.method = method_;
    req.target = std::string(h.target());
    req.content_type = std::string(h[http::field::content_type]);
    req.authorization = std::string(h[http::field::authorization]);
    req.forwarded_for = std::string(h["X-Forwarded-For"]);
    req.remote_address = remote_;
    req.cookie = std::string(h[http::field::cookie]);
    req.origin = std::string(h[http::field::origin]);
    req.host = std::string(h[http::field::host]);
    bool keep_alive = h.keep_alive();
    req.body = std::move(parser_->release().body());
    Prepared p = shared_.api->Prepare(req);
    route_ = p.route;
    if (p.immediate) return Respond(std::move(*p.immediate), false, keep_alive);
    auto& metrics = shared_.api->metrics();
    if (static_cast<size_t>(metrics.jobs_pending.load()) >= shared_.options.max_pending) {
      return Respond(Api::Error(503, "unavailable", "the server is overloaded; retry"), false, keep_alive);
    }
    uint64_t seq = ++seq_;
    waiting_ = true;
    keep_alive_ = keep_alive;
    timer_.expires_after(shared_.options.handler_timeout);
    timer_.async_wait([self = this->shared_from_this(), seq](beast::error_code ec) {
      if (ec || !self->waiting_ || self->seq_ != seq) return;
      self->waiting_ = false;
      self->Respond(Api::Error(503, "unavailable", "the relying party did not answer in time; retry"), false,
                    self->keep_alive_);
    });
    ++metrics.jobs_pending;
    net::post(shared_.pool, [self = this->shared_from_this(), job = std::move(p.job), seq]() mutable {
      Response r = job();
      --self->shared_.api->metrics().jobs_pending;
      net::post(self->stream_.get_executor(), [self, r = std::move(r), seq]() mutable {
        if (!self->waiting_ || self->seq_ != seq) return;  // answered by the timeout already
        self->waiting_ = false;
        self->timer_.cancel();
        self->Respond(std::move(r), false, self->keep_alive_);
      });
    });
  }

  void Respond(Response r, bool linger, bool keep_alive = false) {
    res_ = {};
    res_.version(version_ == 10 ? 10 : 11);
    res_.result(static_cast<unsigned>(r.status));
    res_.set(http::field::server, "enclave-rpd");
    res_.set(http::field::content_type, r.content_type);
    res_.set(http::field::cache_control, "no-store");
    res_.set("X-Content-Type-Options", "nosniff");
    for (const auto& [k, v] : r.headers) res_.set(k, v);
    res_.body() = std::move(r.body);
    res_.keep_alive(keep_alive && !r.close && !linger);
    res_.prepare_payload();
    double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    shared_.api->Finish(method_, route_, r, seconds, remote_);
    Lowest().expires_after(shared_.options.write_timeout);
    http::async_write(stream_, res_, [self = this->shared_from_this(), linger](beast::error_code ec, size_t) {
      if (ec) return self->Failed(ec);
      if (!self->res_.keep_alive()) return self->Close(linger);
      self->ReadHeader();
    });
  }

  void Close(bool linger) {
    if constexpr (kTls) {
      (void)linger;
      Lowest().expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ec;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      if (!linger || ec) return;
      drain_.resize(64 * 1024);
      drained_ = 0;
      Lowest().expires_after(kLingerTime);
      Drain();
    }
  }

  void Drain() {
    stream_.async_read_some(net::buffer(drain_),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > kLingerBytes) return;
                              self->Drain();
                            });
  }

  Stream stream_;
  net::steady_timer timer_;
  Shared& shared_;
  std::shared_ptr<ConnState> state_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  http::response<http::empty_body> continue_;
  std::vector<char> drain_;
  size_t drained_ = 0;
  std::string remote_, method_, route_;
  size_t limit_ = 0;  // the body limit of the request being read (its route's)
  unsigned version_ = 11;
  Clock::time_point start_ = Clock::now();
  uint64_t seq_ = 0;
  bool waiting_ = false;
  bool keep_alive_ = false;
};

}  // namespace

struct Server::Impl {
  Shared shared;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::optional<ssl::context> tls;
  net::signal_set signals{ioc, SIGINT, SIGTERM};
  net::steady_timer accept_retry{ioc};

  Impl(ServerOptions o, std::shared_ptr<Api> api)
      : shared(std::move(o), std::move(api)), ioc(std::max(1, shared.options.io_threads)) {}

  void Accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      if (ec) {
        // Out of descriptors (EMFILE) or a transient error: wait a little rather than spin.
        accept_retry.expires_after(std::chrono::milliseconds(50));
        accept_retry.async_wait([this](beast::error_code) { Accept(); });
        return;
      }
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      if (tls) {
        Start(
            std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(shared, std::move(socket), *tls));
      } else {
        Start(std::make_shared<Session<beast::tcp_stream>>(shared, std::move(socket)));
      }
      Accept();
    });
  }

  template <class S>
  void Start(const std::shared_ptr<S>& s) {
    if (!s->Register()) {
      ++shared.api->metrics().connections_refused;
      return;  // every connection is busy: this one is closed as `s` goes
    }
    s->Run();
  }

  void Stop() {
    net::post(ioc, [this] {
      beast::error_code ec;
      acceptor.close(ec);
      signals.cancel(ec);
      ioc.stop();
    });
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() {
  impl_->shared.pool.stop();
  impl_->shared.pool.join();
}

Result<std::unique_ptr<Server>> Server::Create(ServerOptions options, std::shared_ptr<Api> api) {
  auto impl = std::make_unique<Impl>(std::move(options), std::move(api));
  const ServerOptions& o = impl->shared.options;
  beast::error_code ec;
  if (!o.tls_cert.empty() || !o.tls_key.empty()) {
    if (o.tls_cert.empty() || o.tls_key.empty()) {
      return OSStatusError(errsec::kParam, "--tls-cert and --tls-key go together");
    }
    impl->tls.emplace(ssl::context::tls_server);
    impl->tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(impl->tls->native_handle(), TLS1_2_VERSION);
    impl->tls->use_certificate_chain_file(o.tls_cert, ec);
    if (ec) return OSStatusError(errsec::kParam, "--tls-cert " + o.tls_cert + ": " + ec.message());
    impl->tls->use_private_key_file(o.tls_key, ssl::context::pem, ec);
    if (ec) return OSStatusError(errsec::kParam, "--tls-key " + o.tls_key + ": " + ec.message());
  }
  auto address = net::ip::make_address(o.host, ec);
  if (ec) {
    tcp::resolver resolver(impl->ioc);
    auto found = resolver.resolve(o.host, std::to_string(o.port), ec);
    if (ec || found.empty()) return OSStatusError(errsec::kParam, "cannot resolve --listen host " + o.host);
    address = found.begin()->endpoint().address();
  }
  tcp::endpoint endpoint(address, o.port);
  auto& a = impl->acceptor;
  if (a.open(endpoint.protocol(), ec); !ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return OSStatusError(errsec::kIO,
                         "cannot listen on " + o.host + ":" + std::to_string(o.port) + ": " + ec.message());
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const {
  beast::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void Server::Run() {
  impl_->signals.async_wait([this](beast::error_code ec, int) {
    if (!ec) impl_->Stop();
  });
  impl_->Accept();
  std::vector<std::thread> threads;
  for (int i = 1; i < impl_->shared.options.io_threads; ++i)
    threads.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : threads) t.join();
}

void Server::Stop() { impl_->Stop(); }

}  // namespace enclave::rpd
