// The listener of a port open beyond tests (the metadata provider, issue #31). Every connection
// runs asynchronously on one I/O thread and a fixed pool of threads runs the handler, so holding
// connections open, trickling requests or never reading answers costs a client its own
// connections and nobody else's answers:
// - an address holds at most max_per_source connections; more are answered 503 and closed;
// - at max_connections, a new connection takes the place of the one that has waited longest for
//   a request, or of one stuck reading or writing for over a second (never one being handled);
// - a connection waiting idle_ms for a request, receive_ms for the rest of it or send_ms for the
//   client to take its answer is closed;
// - requests waiting for a handler are taken round-robin by source and beyond max_queued are
//   answered 503 at once.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "net/beast_request.hpp"
#include "net/server.hpp"
#include "util/fatal.hpp"
#include "util/strings.hpp"

namespace net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

enum class Phase { idle, reading, handling, writing, closing };

struct Connection {
  Connection(tcp::socket socket, std::string from) : stream(std::move(socket)), peer(std::move(from)) {}
  beast::tcp_stream stream;
  std::string peer;
  beast::flat_buffer buffer;
  std::optional<http::request_parser<http::string_body>> parser;
  std::string out; // the answer being written
  Phase phase = Phase::idle;
  Clock::time_point since = Clock::now(); // when the phase began
  bool keep_alive = true;
  size_t drained = 0; // bytes discarded after a refusal
};
using ConnectionPtr = std::shared_ptr<Connection>;

struct Job {
  ConnectionPtr connection;
  ServerRequest request;
};

// An answer refused before a connection is kept: written, then the socket closes.
struct Refusal {
  explicit Refusal(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  std::string text;
};

std::string serialize(const ServerResponse& r, bool close) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + status_reason(r.status) + "\r\n";
  bool has_length = false;
  for (const auto& h : r.headers) {
    has_length = has_length || util::iequals(h.name, "Content-Length");
    if (!util::iequals(h.name, "Connection")) {
      out += h.name + ": " + h.value + "\r\n";
    }
  }
  if (!has_length) {
    out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  }
  out += close ? "Connection: close\r\n\r\n" : "\r\n";
  out += r.body;
  return out;
}

bool asks_to_close(const ServerResponse& r) {
  for (const auto& h : r.headers) {
    if (util::iequals(h.name, "Connection") && util::iequals(util::trim(h.value), "close")) {
      return true;
    }
  }
  return false;
}

class PooledServer final : public HttpServer {
public:
  PooledServer(Handler handler, PooledLimits limits)
      : handler_(std::move(handler)), limits_(std::move(limits)), acceptor_(ioc_), retry_accept_(ioc_),
        guard_(asio::make_work_guard(ioc_)) {}
  ~PooledServer() override { stop(); }
  PooledServer(const PooledServer&) = delete;
  PooledServer& operator=(const PooledServer&) = delete;
  PooledServer(PooledServer&&) = delete;
  PooledServer& operator=(PooledServer&&) = delete;

  void listen(const std::string& host, uint16_t port) {
    port_ = open_acceptor(acceptor_, host, port);
    accept_next();
    io_thread_ = std::thread([this] { ioc_.run(); });
    for (int i = 0; i < std::max(1, limits_.workers); ++i) {
      workers_.emplace_back([this] { work(); });
    }
  }

  [[nodiscard]] uint16_t port() const override { return port_; }

  void stop() override {
    {
      const std::lock_guard lock(jobs_mutex_);
      if (stopped_) {
        return;
      }
      stopped_ = true;
    }
    jobs_ready_.notify_all();
    asio::post(ioc_, [this] {
      beast::error_code ec;
      acceptor_.close(ec);
      retry_accept_.cancel();
      const auto open = connections_; // close() edits the set
      for (const auto& c : open) {
        close(c);
      }
    });
    for (auto& w : workers_) {
      w.join(); // each finishes the answer it is making (the provider bounds its Stash calls)
    }
    guard_.reset();
    if (io_thread_.joinable()) {
      io_thread_.join();
    }
    const std::lock_guard lock(jobs_mutex_);
    queues_.clear();
    order_.clear();
  }

private:
  void refused(const char* reason) const {
    if (limits_.on_refused) {
      limits_.on_refused(reason);
    }
  }

  void accept_next() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) {
          return;
        }
        // Out of file descriptors and the like: wait a little rather than spin.
        retry_accept_.expires_after(std::chrono::milliseconds(50));
        retry_accept_.async_wait([this](beast::error_code wec) {
          if (!wec) {
            accept_next();
          }
        });
        return;
      }
      take(std::move(socket));
      accept_next();
    });
  }

  void take(tcp::socket socket) {
    beast::error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    auto peer = peer_address(socket);
    if (limits_.admit && !limits_.admit(peer)) {
      refuse(std::move(socket), 403); // counted by admit
      return;
    }
    const auto held = per_source_.find(peer);
    if (limits_.max_per_source > 0 && held != per_source_.end() && held->second >= limits_.max_per_source) {
      refused("per_source");
      refuse(std::move(socket), 503);
      return;
    }
    if (limits_.max_connections > 0 && std::ssize(connections_) >= limits_.max_connections && !evict_one()) {
      refused("overload");
      refuse(std::move(socket), 503);
      return;
    }
    auto connection = std::make_shared<Connection>(std::move(socket), std::move(peer));
    connections_.insert(connection);
    ++per_source_[connection->peer];
    wait_for_request(connection);
  }

  // The longest-waiting idle connection, else the oldest one stuck reading or writing for over a
  // second; false when every connection is being handled or just started.
  bool evict_one() {
    ConnectionPtr idle;
    ConnectionPtr slow;
    const auto now = Clock::now();
    for (const auto& c : connections_) {
      if (c->phase == Phase::idle && (!idle || c->since < idle->since)) {
        idle = c;
      } else if ((c->phase == Phase::reading || c->phase == Phase::writing) &&
                 now - c->since > std::chrono::seconds(1) && (!slow || c->since < slow->since)) {
        slow = c;
      }
    }
    const auto& victim = idle ? idle : slow;
    if (!victim) {
      return false;
    }
    refused("evicted");
    close(victim);
    return true;
  }

  void refuse(tcp::socket socket, int status) {
    auto r = std::make_shared<Refusal>(std::move(socket));
    ServerResponse answer;
    answer.status = status;
    if (status == 503) {
      answer.headers.push_back(Header{"Retry-After", "1"});
    }
    r->text = serialize(answer, true);
    r->stream.expires_after(std::chrono::seconds(2));
    asio::async_write(r->stream, asio::buffer(r->text), [r](beast::error_code, size_t) {
      beast::error_code ec;
      r->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      r->stream.close();
    });
  }

  void close(const ConnectionPtr& c) {
    if (c->phase == Phase::closing) {
      return;
    }
    c->phase = Phase::closing;
    beast::error_code ec;
    c->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    c->stream.close();
    connections_.erase(c);
    if (auto it = per_source_.find(c->peer); it != per_source_.end() && --it->second <= 0) {
      per_source_.erase(it);
    }
  }

  void enter(const ConnectionPtr& c, Phase phase) {
    c->phase = phase;
    c->since = Clock::now();
  }

  void wait_for_request(const ConnectionPtr& c) {
    enter(c, Phase::idle);
    if (c->buffer.size() > 0) {
      read_request(c); // a pipelined request is already here
      return;
    }
    c->stream.expires_after(std::chrono::milliseconds(limits_.idle_ms));
    c->stream.async_read_some(c->buffer.prepare(4096), [this, c](beast::error_code ec, size_t n) {
      if (c->phase == Phase::closing) {
        return;
      }
      if (ec) {
        close(c); // idle too long, or the client left
        return;
      }
      c->buffer.commit(n);
      read_request(c);
    });
  }

  void read_request(const ConnectionPtr& c) {
    enter(c, Phase::reading);
    c->parser.emplace();
    c->parser->body_limit(limits_.body_bytes);
    c->parser->header_limit(static_cast<uint32_t>(limits_.header_bytes));
    c->stream.expires_after(std::chrono::milliseconds(limits_.receive_ms));
    http::async_read(c->stream, c->buffer, *c->parser, [this, c](beast::error_code ec, size_t) {
      if (c->phase == Phase::closing) {
        return;
      }
      if (ec == http::error::body_limit || ec == http::error::header_limit) {
        refused("too_large");
        ServerResponse answer;
        answer.status = ec == http::error::body_limit ? 413 : 431;
        c->keep_alive = false;
        write(c, answer, true);
        return;
      }
      if (ec) {
        if (ec == beast::error::timeout) {
          refused("slow");
        }
        close(c);
        return;
      }
      auto msg = c->parser->release();
      c->parser.reset();
      c->keep_alive = msg.keep_alive();
      c->stream.expires_never();
      queue(Job{c, to_server_request(msg, c->peer)});
    });
  }

  void queue(Job job) {
    ConnectionPtr shed; // the connection answered 503
    {
      const std::lock_guard lock(jobs_mutex_);
      if (queued_ < static_cast<size_t>(std::max(1, limits_.max_queued))) {
        enqueue(std::move(job));
        return;
      }
      // Full: shed from the source that has the most waiting, not from whoever comes next, so a
      // flooding source cannot make every other source's requests the ones refused.
      auto biggest = queues_.begin();
      for (auto it = queues_.begin(); it != queues_.end(); ++it) {
        biggest = it->second.size() > biggest->second.size() ? it : biggest;
      }
      const auto mine = queues_.find(job.connection->peer);
      const size_t own = mine == queues_.end() ? 0 : mine->second.size();
      if (biggest != queues_.end() && biggest->second.size() > own + 1) {
        shed = std::move(biggest->second.back().connection); // two or more there: one stays queued
        biggest->second.pop_back();
        --queued_;
        enqueue(std::move(job));
      } else {
        shed = std::move(job.connection);
      }
    }
    refused("overload");
    ServerResponse busy;
    busy.status = 503;
    busy.headers.push_back(Header{"Retry-After", "1"});
    write(shed, busy, false);
  }

  // Under jobs_mutex_.
  void enqueue(Job job) {
    const auto& c = job.connection;
    enter(c, Phase::handling);
    auto& q = queues_[c->peer];
    if (q.empty()) {
      order_.push_back(c->peer);
    }
    q.push_back(std::move(job));
    ++queued_;
    jobs_ready_.notify_one();
  }

  void work() {
    for (;;) {
      Job job;
      {
        std::unique_lock lock(jobs_mutex_);
        jobs_ready_.wait(lock, [this] { return stopped_ || queued_ > 0; });
        if (stopped_) {
          return;
        }
        const auto peer = order_.front();
        order_.pop_front();
        auto& q = queues_[peer];
        job = std::move(q.front());
        q.pop_front();
        --queued_;
        if (q.empty()) {
          queues_.erase(peer);
        } else {
          order_.push_back(peer); // round-robin: the next source's request goes first
        }
      }
      ServerResponse response;
      try {
        response = handler_(job.request);
      } catch (const std::exception& e) {
        response = ServerResponse{};
        response.status = 500;
        response.body = std::string("handler error: ") + e.what();
      }
      drop_body_for_head(job.request, response);
      asio::post(ioc_, [this, c = std::move(job.connection), r = std::move(response)]() mutable {
        if (c->phase != Phase::closing) {
          write(c, r, false);
        }
      });
    }
  }

  // refusal: the request was not read whole; after the answer, stop sending and discard what the
  // client still sends (bounded), so it reads the refusal instead of a reset.
  void write(const ConnectionPtr& c, const ServerResponse& r, bool refusal) {
    enter(c, Phase::writing);
    const bool close_after = refusal || !c->keep_alive || asks_to_close(r) || stopped_;
    c->out = serialize(r, close_after);
    c->stream.expires_after(std::chrono::milliseconds(limits_.send_ms));
    asio::async_write(c->stream, asio::buffer(c->out), [this, c, close_after, refusal](beast::error_code ec, size_t) {
      if (c->phase == Phase::closing) {
        return;
      }
      c->out = std::string();
      if (ec) {
        if (ec == beast::error::timeout) {
          refused("unread");
        }
        close(c);
      } else if (refusal) {
        beast::error_code sec;
        c->stream.socket().shutdown(tcp::socket::shutdown_send, sec);
        c->stream.expires_after(std::chrono::seconds(2));
        drain(c);
      } else if (close_after) {
        close(c);
      } else {
        wait_for_request(c);
      }
    });
  }

  void drain(const ConnectionPtr& c) {
    constexpr size_t k_drain_bytes = size_t{8} * 1024 * 1024;
    c->buffer.clear();
    c->stream.async_read_some(c->buffer.prepare(16384), [this, c](beast::error_code ec, size_t n) {
      if (c->phase == Phase::closing) {
        return;
      }
      c->drained += n;
      if (ec || c->drained >= k_drain_bytes) {
        close(c);
        return;
      }
      drain(c);
    });
  }

  Handler handler_;
  PooledLimits limits_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_accept_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  uint16_t port_ = 0;
  std::thread io_thread_;
  std::vector<std::thread> workers_;
  // The I/O thread's alone.
  std::set<ConnectionPtr> connections_;
  std::map<std::string, int> per_source_;
  // Shared with the workers.
  std::mutex jobs_mutex_;
  std::condition_variable jobs_ready_;
  std::atomic<bool> stopped_{false};              // written under jobs_mutex_ so the workers' wait sees it
  std::map<std::string, std::deque<Job>> queues_; // by source
  std::deque<std::string> order_;                 // sources with waiting requests, in turn
  size_t queued_ = 0;
};

} // namespace

std::unique_ptr<HttpServer> start_pooled_server(const std::string& host, uint16_t port, Handler handler,
                                                PooledLimits limits) {
  auto server = std::make_unique<PooledServer>(std::move(handler), std::move(limits));
  server->listen(host, port);
  return server;
}

} // namespace net
