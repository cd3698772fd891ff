// What each accepted connection is served: the enclave protocol (with runs of pipelined
// signatures shared with helper threads), the ssh-agent protocol, and event streams. Listening,
// admission and the daemon's lifecycle are in server.cpp.
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cerrno>
#include <deque>
#include <mutex>
#include <optional>

#include "daemon/codec.h"
#include "daemon/dispatch.h"
#include "daemon/frame.h"
#include "daemon/frame_buffer.h"
#include "daemon/server.h"
#include "daemon/server_util.h"
#include "daemon/sign_run.h"
#include "sshagent/agent.h"
#include "sshagent/caller.h"

namespace enclave::daemon {
namespace {

using internal::MillisecondsSince;
using internal::SteadyMs;
using internal::Wake;

// A request read from a connection, or why there is none.
struct Incoming {
  enum class Kind { kRequest, kUnparseable, kEnd } kind = Kind::kEnd;
  FrameError error = FrameError::kIo;  // for kEnd
  std::string detail;
};

}  // namespace

void Server::Serve(Connection* connection) {
  const int fd = connection->fd.get();
  const service::Peer peer = connection->peer;
  RequestLogEntry base;
  base.peer_pid = peer.pid;
  base.peer_uid = peer.uid;
  // The peer's uid picks its enclave (system mode) or is refused (another uid, per-user mode).
  auto enclave = enclaves_->For(peer.uid);
  if (!enclave.ok()) {
    if (connection->agent) {
      (void)sshagent::WriteMessage(fd, Bytes{sshagent::kFailure});
    } else {
      (void)WriteMessage(fd, ErrorResponse(0, enclave.error()));
    }
    RequestLogEntry entry = base;
    entry.request = "connect";
    entry.error = enclave.error();
    log_.Request(entry);
    return;
  }
  if (connection->agent) {
    ServeAgent(**enclave, fd, peer, base);
    return;
  }
  std::unique_ptr<service::Session> session = (*enclave)->OpenSession(peer);
  SocketFrameReader reader(fd, options_.frame_timeout, options_.idle_timeout);
  // Replies wait here while more requests are already buffered, and go out in one send: a peer
  // with many requests in flight gets them back in batches. Reused, like the messages below.
  Bytes replies;
  auto flush = [&]() -> Status {
    const Status sent = WriteAll(fd, replies);
    WipeBuffer(&replies);
    replies.clear();
    return sent;
  };
  auto reply_now = [&](const wire::Response& response) {
    (void)AppendFrame(response, &replies);
    (void)flush();
  };
  // Reads and parses the next request into `into`.
  auto read = [&](wire::Request* into) -> Incoming {
    SocketFrameReader::Frame frame = reader.Next();
    if (!frame.payload) return {Incoming::Kind::kEnd, frame.error, std::move(frame.detail)};
    if (!ParsePayload(*frame.payload, into)) return {Incoming::Kind::kUnparseable, FrameError::kIo, {}};
    return {Incoming::Kind::kRequest, FrameError::kIo, {}};
  };
  // Appends a reply, then logs its request: a refusal is in the log before its caller can see
  // it (the log writes refusals at once); a success is logged after the flush, off the caller's
  // wait. Returns whether the connection can go on.
  auto answer = [&](const wire::Request& request, wire::Response& response, RequestLogEntry& entry,
                    std::chrono::steady_clock::time_point start, bool keep_open, bool more_to_serve) {
    Status sent = AppendFrame(response, &replies);
    if (!sent.ok()) {
      response.Clear();
      response = ErrorResponse(request.id(), sent.error());
      sent = AppendFrame(response, &replies);
    }
    const bool refused = entry.error.has_value() || response.has_error();
    if (refused) {
      entry.duration_ms = MillisecondsSince(start);
      log_.Request(entry);
    }
    if (sent.ok() && (!keep_open || !more_to_serve)) sent = flush();
    if (!refused) {
      entry.duration_ms = MillisecondsSince(start);
      log_.Request(entry);
    }
    return sent.ok();
  };
  wire::Request request;
  wire::Response response;
  wire::Request ahead;           // read while gathering a run, and not part of it
  std::optional<Incoming> held;  // what reading `ahead` gave: served next
  SignRun run;
  while (!stopping_) {
    Incoming in;
    if (held) {
      in = std::move(*held);
      held.reset();
      request.Swap(&ahead);
    } else {
      connection->idle_since_ms = SteadyMs();
      in = read(&request);
      connection->idle_since_ms = 0;
    }
    if (in.kind == Incoming::Kind::kEnd) {
      if (in.error != FrameError::kClosed && in.error != FrameError::kIo && in.error != FrameError::kIdle &&
          !stopping_ && !connection->evicted) {
        RequestLogEntry entry = base;
        entry.request = "frame";
        entry.error = ProtocolError(in.detail);
        log_.Request(entry);
        reply_now(ErrorResponse(0, *entry.error));
      } else {
        (void)flush();
      }
      break;
    }
    const auto start = std::chrono::steady_clock::now();
    RequestLogEntry entry = base;
    if (in.kind == Incoming::Kind::kUnparseable) {
      entry.request = "unparseable";
      entry.error = ProtocolError("the request is not a well-formed message");
      log_.Request(entry);
      reply_now(ErrorResponse(0, *entry.error));
      break;
    }
    if (helpers_ && helpers_->size() > 0 && reader.HasWholeFrame() && SignRun::Starts(request)) {
      // Signatures pipelined one after another: gather those already buffered and serve them
      // together (daemon/sign_run.h), then answer each in order.
      run.Begin(&request);
      while (run.size() < SignRun::kMaxRequests && reader.HasWholeFrame()) {
        Incoming next = read(&ahead);
        if (next.kind == Incoming::Kind::kRequest && run.Continues(ahead)) {
          run.Add(&ahead);
          continue;
        }
        held = std::move(next);
        break;
      }
      run.Serve(*session, base, *helpers_);
      bool open = true;
      for (size_t i = 0; open && i < run.size(); ++i) {
        // A run's answers go out together, even with more requests buffered: the client can
        // send its next requests while the daemon signs the ones it has.
        const bool more = i + 1 < run.size();
        open = answer(run.request(i), run.response(i), run.entry(i), run.start(i), true, more);
      }
      if (!open) break;
      continue;
    }
    entry.request = RequestKind(request);
    response.Clear();
    response.set_id(request.id());
    bool keep_open = true;
    switch (request.op_case()) {
      case wire::Request::kPing:
        response.mutable_pong()->set_pid(static_cast<uint32_t>(::getpid()));
        response.mutable_pong()->set_version(ENCLAVE_VERSION);
        response.mutable_pong()->set_home((*enclave)->home().string());
        break;
      case wire::Request::kShutdown:
        response.mutable_done();
        keep_open = false;
        break;
      case wire::Request::kWatch:
        if (!flush().ok()) return;
        entry.duration_ms = MillisecondsSince(start);
        log_.Request(entry);
        ServeWatch(**enclave, fd, request.id());
        return;
      default:
        response = Dispatch(*session, request, &entry);
        break;
    }
    WipeSecrets(&request);
    const bool open =
        answer(request, response, entry, start, keep_open, held.has_value() || reader.HasWholeFrame());
    if (request.op_case() == wire::Request::kShutdown) Stop();
    if (!open || !keep_open) break;
  }
  (void)flush();  // replies to requests served before a stop
  // The session (and its non-permanent keys) ends with the connection.
}

void Server::ServeAgent(service::Enclave& enclave, int fd, const service::Peer& peer,
                        const RequestLogEntry& base) {
  std::unique_ptr<service::Session> session = enclave.OpenSession(peer);
  if (!session) return;
  sshagent::AgentOptions agent_options;
  agent_options.own_socket = agent_socket_path_;
  sshagent::Agent agent(*session, {peer.pid, sshagent::ProcessChain(peer.pid)}, agent_options);
  // The agent protocol frames messages as the daemon's does (a 4-byte length), with its own
  // limit; a buffered reader takes a request in one recv.
  SocketFrameReader reader(fd, options_.frame_timeout, std::chrono::milliseconds(0),
                           sshagent::kMaxMessageSize);
  while (!stopping_) {
    SocketFrameReader::Frame frame = reader.Next();
    if (!frame.payload || frame.payload->empty()) {
      if (frame.payload ||
          (frame.error != FrameError::kClosed && frame.error != FrameError::kIo && !stopping_)) {
        // The stream cannot be resynchronised after a bad frame: say so in the log and close.
        RequestLogEntry entry = base;
        entry.request = "ssh-agent frame";
        entry.error = ProtocolError(frame.payload ? "an empty message" : frame.detail);
        log_.Request(entry);
        (void)sshagent::WriteMessage(fd, Bytes{sshagent::kFailure});
      }
      break;
    }
    const auto start = std::chrono::steady_clock::now();
    sshagent::Outcome outcome;
    const Bytes reply = agent.Handle(*frame.payload, &outcome);
    RequestLogEntry entry = base;
    entry.request = "ssh-agent " + outcome.request;
    entry.kids = outcome.kids;
    entry.error = outcome.error;
    if (outcome.error) entry.reason = outcome.error->description;
    entry.duration_ms = MillisecondsSince(start);
    // As above: a refusal is logged before the client can see it.
    if (outcome.error) log_.Request(entry);
    const Status sent = sshagent::WriteMessage(fd, reply);
    if (!outcome.error) log_.Request(entry);
    if (!sent.ok()) break;
  }
}

void Server::ServeWatch(service::Enclave& enclave, int fd, uint64_t id) {
  struct Queue {
    std::mutex mu;
    std::deque<std::string> events;
    UniqueFd ready{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  };
  auto queue = std::make_shared<Queue>();
  const int subscription = enclave.Subscribe([queue](const nlohmann::json& event) {
    {
      std::lock_guard lock(queue->mu);
      queue->events.push_back(DumpJson(event));
    }
    Wake(queue->ready.get());
  });
  wire::Response started;
  started.set_id(id);
  started.mutable_watch_started();
  bool open = WriteMessage(fd, started).ok();
  while (open && !stopping_) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {queue->ready.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    // A watching client only listens; input or hang-up from it ends the watch.
    if (fds[0].revents) break;
    uint64_t count;
    [[maybe_unused]] ssize_t n = ::read(queue->ready.get(), &count, sizeof count);
    std::deque<std::string> pending;
    {
      std::lock_guard lock(queue->mu);
      pending.swap(queue->events);
    }
    for (auto& e : pending) {
      wire::Response event;
      event.set_id(id);
      event.mutable_event()->set_event_json(std::move(e));
      if (!WriteMessage(fd, event).ok()) {
        open = false;
        break;
      }
    }
  }
  enclave.Unsubscribe(subscription);
}

}  // namespace enclave::daemon
