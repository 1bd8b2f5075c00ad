// The only translation unit with Beast's server side: thread per connection, which is plenty
// for loopback simulators and keeps fault injection (stalls, resets) straightforward.
#include <array>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <type_traits>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "net/accept_wake.hpp"
#include "net/beast_request.hpp"
#include "net/server.hpp"
#include "util/fatal.hpp"
#include "util/strings.hpp"

namespace net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

class BeastServer final : public HttpServer {
public:
  BeastServer(Handler handler, ServerLimits limits)
      : handler_(std::move(handler)), limits_(std::move(limits)), acceptor_(ioc_) {}

  void use_tls(const ServerTls& tls) {
    tls_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    beast::error_code ec;
    tls_->use_certificate_chain_file(tls.cert_file, ec);
    if (ec) {
      throw util::Fatal("cannot load the TLS certificate " + tls.cert_file + ": " + ec.message());
    }
    tls_->use_private_key_file(tls.key_file, asio::ssl::context::pem, ec);
    if (ec) {
      throw util::Fatal("cannot load the TLS key " + tls.key_file + ": " + ec.message());
    }
  }

  ~BeastServer() override { stop(); }

  void listen(const std::string& host, uint16_t port) {
    port_ = open_acceptor(acceptor_, host, port);
    accept_thread_ = std::thread([this] { accept_loop(); });
    if (limits_.receive_ms > 0) {
      watchdog_thread_ = std::thread([this] { watchdog(); });
    }
  }

  [[nodiscard]] uint16_t port() const override { return port_; }

  void stop() override {
    if (stopped_.exchange(true)) {
      return;
    }
    beast::error_code ec;
    acceptor_.cancel(ec);
    wake_blocked_accept(static_cast<std::intptr_t>(acceptor_.native_handle()));
    acceptor_.close(ec);
    if (accept_thread_.joinable()) {
      accept_thread_.join();
    }
    if (watchdog_thread_.joinable()) {
      watchdog_thread_.join();
    }
    std::unique_lock lock(mutex_);
    for (auto& [socket, deadline] : sockets_) {
      socket->shutdown(tcp::socket::shutdown_both, ec);
    }
    idle_.wait(lock, [this] { return active_ == 0; });
  }

private:
  void accept_loop() {
    while (!stopped_) {
      auto socket = std::make_unique<tcp::socket>(ioc_);
      beast::error_code ec;
      acceptor_.accept(*socket, ec);
      if (ec) {
        if (stopped_) {
          return;
        }
        continue;
      }
      std::lock_guard lock(mutex_);
      if (limits_.max_connections > 0 && active_ >= limits_.max_connections) {
        socket->close(ec); // over the cap: the client retries later
        continue;
      }
      ++active_;
      sockets_.emplace(socket.get(), 0);
      std::thread([this, s = std::move(socket)]() mutable { serve(std::move(s)); }).detach();
    }
  }

  static int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // Closes connections whose request has not fully arrived in time (a trickling client).
  void watchdog() {
    while (sleep_unless_stopped(100)) {
      const auto now = steady_ms();
      std::lock_guard lock(mutex_);
      for (auto& [socket, deadline] : sockets_) {
        if (deadline != 0 && now > deadline) {
          beast::error_code ec;
          socket->shutdown(tcp::socket::shutdown_both, ec);
          deadline = 0;
        }
      }
    }
  }

  void set_deadline(tcp::socket& socket, int64_t deadline) {
    if (limits_.receive_ms > 0) {
      std::lock_guard lock(mutex_);
      sockets_[&socket] = deadline;
    }
  }

  void serve(std::unique_ptr<tcp::socket> socket) {
    beast::error_code ec;
    socket->set_option(tcp::no_delay(true), ec);
    const auto peer = peer_address(*socket);
    if (limits_.admit && !limits_.admit(peer)) {
      // Refused before anything is read: a short answer, then the connection closes.
      const std::string refused = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      if (!tls_) {
        asio::write(*socket, asio::buffer(refused), ec);
      }
    } else if (tls_) {
      asio::ssl::stream<tcp::socket&> stream(*socket, *tls_);
      stream.handshake(asio::ssl::stream_base::server, ec);
      if (!ec) {
        exchange(stream, *socket, peer);
        stream.shutdown(ec);
      }
    } else {
      exchange(*socket, *socket, peer);
    }
    socket->shutdown(tcp::socket::shutdown_both, ec);
    socket->close(ec);
    std::lock_guard lock(mutex_);
    sockets_.erase(socket.get());
    if (--active_ == 0) {
      idle_.notify_all();
    }
  }

  // After refusing a request the client is still sending: closing at once would reset the
  // connection and the client, still writing, would never read the refusal. So stop sending and
  // discard what arrives, bounded in bytes and (with a receive limit) in time, until it stops.
  void linger(tcp::socket& raw) {
    if (limits_.receive_ms <= 0) {
      return; // no watchdog to bound the wait: close as before
    }
    constexpr size_t k_linger_bytes = size_t{8} * 1024 * 1024;
    constexpr int64_t k_linger_ms = 2000;
    beast::error_code ec;
    raw.shutdown(tcp::socket::shutdown_send, ec);
    set_deadline(raw, steady_ms() + k_linger_ms);
    std::array<char, 16384> sink{};
    for (size_t drained = 0; drained < k_linger_bytes && !ec;) {
      drained += raw.read_some(asio::buffer(sink), ec);
    }
    set_deadline(raw, 0);
  }

  // Requests and answers on one connection until either side closes; raw is the TCP socket
  // under stream (the same object without TLS), for resets.
  template <typename Stream> void exchange(Stream& stream, tcp::socket& raw, const std::string& peer) {
    beast::error_code ec;
    beast::flat_buffer buffer;
    while (!stopped_) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(limits_.body_bytes);
      // Long request lines must reach the simulators' handlers so they can answer 414 like PMS does.
      parser.header_limit(static_cast<uint32_t>(limits_.header_bytes));
      set_deadline(raw, limits_.receive_ms > 0 ? steady_ms() + limits_.receive_ms : 0);
      http::read(stream, buffer, parser, ec);
      set_deadline(raw, 0);
      if (ec == http::error::body_limit || ec == http::error::header_limit) {
        ServerResponse refused;
        refused.status = ec == http::error::body_limit ? 413 : 431;
        refused.headers.push_back(Header{"Connection", "close"});
        if (write_response(stream, raw, refused)) {
          linger(raw);
        }
        break;
      }
      if (ec) {
        break;
      }
      auto msg = parser.release();
      auto request = to_server_request(msg, peer);
      ServerResponse response;
      try {
        response = handler_(request);
      } catch (const std::exception& e) {
        response = ServerResponse{};
        response.status = 500;
        response.body = std::string("handler error: ") + e.what();
      }
      // WebSockets over plain HTTP only: the simulators serve them, and one stream type keeps the
      // binary small (Beast's WebSocket code is instantiated per stream).
      if constexpr (std::is_same_v<Stream, tcp::socket>) {
        if (response.websocket && websocket::is_upgrade(msg)) {
          serve_websocket(stream, msg, response.websocket);
          break;
        }
      }
      drop_body_for_head(request, response);
      if (!write_response(stream, raw, response) || !msg.keep_alive()) {
        break;
      }
    }
  }

  template <typename Stream>
  void serve_websocket(Stream& stream, const http::request<http::string_body>& upgrade,
                       const ServerResponse::WebSocketSession& session) {
    websocket::stream<Stream&> ws(stream);
    beast::error_code ec;
    ws.accept(upgrade, ec);
    if (ec) {
      return;
    }
    ws.text(true);
    session(
        [&ws](const std::string& text) {
          beast::error_code wec;
          ws.write(asio::buffer(text), wec);
          return !wec;
        },
        [this] { return stopped_.load(); });
    ws.close(websocket::close_code::going_away, ec);
  }

  bool sleep_unless_stopped(int ms) {
    for (int waited = 0; waited < ms && !stopped_; waited += 10) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(10, ms - waited)));
    }
    return !stopped_;
  }

  // Ends only when the client closes (or the server stops): what a broken proxy can do. Chunked,
  // so no announced length lets the client refuse it up front.
  template <typename Stream> bool write_endless(Stream& socket, std::string head, int interval_ms) {
    head += "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    beast::error_code ec;
    asio::write(socket, asio::buffer(head), ec);
    const size_t size = interval_ms > 0 ? 1 : 64 * 1024;
    std::ostringstream hex;
    hex << std::hex << size;
    const std::string chunk = hex.str() + "\r\n" + std::string(size, ' ') + "\r\n";
    while (!ec && !stopped_) {
      asio::write(socket, asio::buffer(chunk), ec);
      if (interval_ms > 0 && !sleep_unless_stopped(interval_ms)) {
        break;
      }
    }
    return false;
  }

  template <typename Stream> bool write_response(Stream& socket, tcp::socket& raw, const ServerResponse& r) {
    if (r.delay_ms > 0 && !sleep_unless_stopped(r.delay_ms)) {
      return false;
    }
    if (r.reset) {
      // SO_LINGER 0 turns close() into an RST, like a crashing proxy.
      beast::error_code ec;
      raw.set_option(asio::socket_base::linger(true, 0), ec);
      raw.close(ec);
      return false;
    }
    std::string head = "HTTP/1.1 " + std::to_string(r.status) + " " + status_reason(r.status) + "\r\n";
    if (r.endless_body) {
      return write_endless(socket, head, r.endless_interval_ms);
    }
    bool has_length = false;
    for (const auto& h : r.headers) {
      has_length = has_length || util::iequals(h.name, "Content-Length");
      head += h.name + ": " + h.value + "\r\n";
    }
    if (!has_length) {
      head += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
    }
    head += "\r\n";
    beast::error_code ec;
    asio::write(socket, asio::buffer(head), ec);
    if (ec) {
      return false;
    }
    if (r.stall_after_head_ms > 0 && !sleep_unless_stopped(r.stall_after_head_ms)) {
      return false;
    }
    const size_t half = r.body.size() / 2;
    if (r.stall_mid_body_ms > 0 || r.truncate_body) {
      asio::write(socket, asio::buffer(r.body.data(), half), ec);
      if (ec) {
        return false;
      }
      if (r.truncate_body) {
        return false;
      }
      if (!sleep_unless_stopped(r.stall_mid_body_ms)) {
        return false;
      }
      asio::write(socket, asio::buffer(r.body.data() + half, r.body.size() - half), ec);
    } else {
      asio::write(socket, asio::buffer(r.body), ec);
    }
    return !ec;
  }

  Handler handler_;
  ServerLimits limits_;
  std::unique_ptr<asio::ssl::context> tls_; // null: plain HTTP
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread accept_thread_;
  std::thread watchdog_thread_;
  std::atomic<bool> stopped_{false};
  std::mutex mutex_;
  std::condition_variable idle_;
  std::map<tcp::socket*, int64_t> sockets_; // open connections -> receive deadline (0 = none)
  int active_ = 0;
};

} // namespace

std::unique_ptr<HttpServer> start_server(const std::string& host, uint16_t port, Handler handler, const ServerTls& tls,
                                         ServerLimits limits) {
  auto server = std::make_unique<BeastServer>(std::move(handler), std::move(limits));
  if (!tls.cert_file.empty()) {
    server->use_tls(tls);
  }
  server->listen(host, port);
  return server;
}

void drop_body_for_head(const ServerRequest& request, ServerResponse& response) {
  if (request.method != "HEAD" || response.body.empty()) {
    return;
  }
  bool has_length = false;
  for (const auto& h : response.headers) {
    has_length = has_length || util::iequals(h.name, "Content-Length");
  }
  if (!has_length) {
    response.headers.push_back(Header{"Content-Length", std::to_string(response.body.size())});
  }
  response.body.clear();
}

const char* status_reason(int status) {
  switch (status) {
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 204:
    return "No Content";
  case 304:
    return "Not Modified";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 409:
    return "Conflict";
  case 414:
    return "URI Too Long";
  case 422:
    return "Unprocessable Entity";
  case 413:
    return "Content Too Large";
  case 429:
    return "Too Many Requests";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 502:
    return "Bad Gateway";
  case 503:
    return "Service Unavailable";
  case 504:
    return "Gateway Timeout";
  default:
    return "Status";
  }
}

} // namespace net
