// A small threaded HTTP/1.1 server for the simulators and the service endpoints. Responses can
// carry fault directives (delay, stalled body, reset, raw bytes) so tests can reproduce the ways
// real servers and proxies misbehave.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "net/http.hpp"

namespace net {

struct ServerRequest {
  std::string method;
  std::string target; // raw, as on the request line
  std::string path;   // decoded path without the query
  std::string query;  // raw query text after '?'
  Headers headers;
  std::string body;
  std::string peer; // the TCP peer's address ("127.0.0.1", "::1"), for allow-lists
  [[nodiscard]] const std::string* header(std::string_view name) const { return find_header(headers, name); }
};

struct ServerResponse {
  int status = 200;
  Headers headers;
  std::string body;
  // Fault directives.
  int delay_ms = 0;            // wait before answering
  int stall_after_head_ms = 0; // send status + headers, then go quiet this long before the body
  int stall_mid_body_ms = 0;   // send half the body, then go quiet this long
  bool reset = false;          // close the connection without answering
  bool truncate_body = false;  // announce the full length, send half, close
  // A chunked body streamed until the client gives up: 64 KiB chunks back to back, or one byte
  // every endless_interval_ms (a trickle that never trips a read timeout).
  bool endless_body = false;
  int endless_interval_ms = 0;
  // Set on the answer to a WebSocket upgrade request (PMS's notification feed in plexsim): the
  // server accepts the upgrade and runs this on the connection's thread, which sends text
  // messages with send() (false once the peer is gone) until it returns; stopping() turns true
  // when the server stops. The status and body above are ignored then.
  using WebSocketSession =
      std::function<void(const std::function<bool(const std::string&)>& send, const std::function<bool()>& stopping)>;
  WebSocketSession websocket;
};

using Handler = std::function<ServerResponse(const ServerRequest&)>;

class HttpServer {
public:
  virtual ~HttpServer() = default;
  [[nodiscard]] virtual uint16_t port() const = 0;
  // Closes the listener and every open connection, then waits for handler threads.
  virtual void stop() = 0;
};

// Limits for a listener open to more than a test (the metadata provider). The defaults suit the
// simulators: large bodies and headers, no time limit, no connection cap.
struct ServerLimits {
  size_t body_bytes = size_t{256} * 1024U * 1024U; // larger: 413 and the connection closes
  size_t header_bytes = size_t{1024} * 1024U;      // larger: 431 and the connection closes
  int receive_ms = 0;                              // a request (head and body) must arrive within this; 0 = no limit
  int max_connections = 0;                         // more at once are closed on accept; 0 = no cap
  // Checked on the TCP peer address before anything is read; false closes the connection after
  // a 403 (nothing of the request is read).
  std::function<bool(const std::string& peer)> admit;
};

// PEM files for HTTPS; empty: plain HTTP.
struct ServerTls {
  std::string cert_file; // the certificate chain, leaf first
  std::string key_file;
};

// Listens on host:port (port 0 picks a free one). Throws util::Fatal when it cannot bind or
// cannot load the TLS files.
std::unique_ptr<HttpServer> start_server(const std::string& host, uint16_t port, Handler handler,
                                         const ServerTls& tls = {}, ServerLimits limits = {});

// A listener open to more than a test (the metadata provider, issue #31): plain HTTP, one I/O
// thread for every connection and a fixed pool of handler threads, so no client can make it grow.
struct PooledLimits {
  size_t body_bytes = size_t{64} * 1024U;  // larger: 413 and the connection closes
  size_t header_bytes = size_t{8} * 1024U; // larger: 431 and the connection closes
  int receive_ms = 10'000;                 // a request, once its first byte came, must arrive within this
  int idle_ms = 5'000;                     // a connection waiting this long for a request closes
  int send_ms = 10'000;                    // an answer the client does not take within this: closed
  int max_connections = 256;               // at the cap, the longest-waiting idle or slow connection goes
  int max_per_source = 16;                 // connections one address holds at once; more: 503, closed
  int workers = 8;                         // handler threads
  int max_queued = 64;                     // requests waiting for a handler; more: 503 at once
  // Checked on the TCP peer address before anything is read; false: 403, closed, nothing read.
  std::function<bool(const std::string& peer)> admit;
  // Told of each connection or request turned away ("source", "per_source", "overload",
  // "evicted", "idle", "unread", "too_large"), for the caller's counters.
  std::function<void(const char* reason)> on_refused;
};

// Throws util::Fatal when it cannot bind. Handler answers carry no fault directives here (they
// are ignored) and no WebSocket upgrades.
std::unique_ptr<HttpServer> start_pooled_server(const std::string& host, uint16_t port, Handler handler,
                                                PooledLimits limits);

// A HEAD answer is the head alone (RFC 9110 9.3.2) with the length a GET would have: a body would
// be read as the start of the next answer on a kept-alive connection.
void drop_body_for_head(const ServerRequest& request, ServerResponse& response);

const char* status_reason(int status);

} // namespace net
