// The HTTP vocabulary every module speaks. No Beast here: the one client and the one server
// implementation live in their own .cpp files behind these types.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "util/expected.hpp"

namespace net {

struct Header {
  std::string name;
  std::string value;
};
using Headers = std::vector<Header>;

// Case-insensitive lookup; nullptr when absent.
const std::string* find_header(const Headers& headers, std::string_view name);

struct Url {
  std::string scheme; // "http" or "https"
  std::string host;   // without brackets
  uint16_t port = 0;
  std::string base_path; // "" or "/prefix" without trailing slash

  static util::Result<Url> parse(std::string_view text);
  // scheme://host:port/base_path, safe to log (never carries credentials or a query).
  [[nodiscard]] std::string display() const;
};

struct Request {
  std::string method = "GET";
  std::string target; // path + query, relative to the client's base URL
  Headers headers;
  std::string body;
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;
  [[nodiscard]] const std::string* header(std::string_view name) const { return find_header(headers, name); }
};

// Failures below HTTP: what happened on the wire, classified where it happened.
enum class TransportFailure {
  dns,             // the host name did not resolve
  connect_refused, // nothing listens there
  connect_timeout, // no answer to the connection attempt in time
  read_timeout,    // the peer went quiet for longer than the read timeout
  deadline,        // the whole request took longer than its overall deadline
  reset,           // the connection was closed or reset mid-exchange
  tls,             // handshake or certificate verification failed
  too_large,       // the response exceeded the size limit
  protocol,        // not parseable as HTTP
  aborted,         // ClientOptions::abort was set while the call was in flight
};
const char* to_string(TransportFailure failure);

struct TransportError {
  TransportFailure kind;
  std::string message; // never contains credentials
  int http_status = 0; // a WebSocket upgrade the server answered with a plain HTTP status
};

struct ClientOptions {
  Url base;
  int connect_timeout_ms = 5000;
  int read_timeout_ms = 30000;
  int total_timeout_ms = 120000;
  size_t max_response_bytes = size_t{64} * 1024U * 1024U;
  bool verify_tls = true;
  std::string ca_file; // empty: SSL_CERT_FILE, then the usual Debian/Alpine bundle paths
  // Set to true by its owner (shutting down): a call in flight ends within a tenth of a second
  // with TransportFailure::aborted, whatever the server does. Must outlive the client.
  const std::atomic<bool>* abort = nullptr;
};

class HttpClient {
public:
  virtual ~HttpClient() = default;
  virtual tl::expected<Response, TransportError> send(const Request& request) = 0;
  // Upgrades a new connection to a WebSocket on upgrade.target, with upgrade.headers (a token
  // goes in a header, never in the URL), after the same connection and TLS checks as send(). Then
  // on_open runs, and each text message (at most max_message bytes) goes to on_message until the
  // server closes the feed (an empty success), the connection fails, or keep_going() answers false
  // (asked about five times a second; then it returns at once). A server that answers the upgrade
  // with an HTTP status fails with that status in http_status.
  virtual tl::expected<void, TransportError> listen(const Request& upgrade, size_t max_message,
                                                    const std::function<void()>& on_open,
                                                    const std::function<void(const std::string&)>& on_message,
                                                    const std::function<bool()>& keep_going) {
    (void)upgrade, (void)max_message, (void)on_open, (void)on_message, (void)keep_going;
    return tl::unexpected(TransportError{TransportFailure::protocol, "this client has no WebSocket support", 0});
  }
};

std::unique_ptr<HttpClient> make_http_client(const ClientOptions& options);

// The CA bundle to trust when none is configured: $SSL_CERT_FILE, else (POSIX only) the first that
// exists of Debian's /etc/ssl/certs/ca-certificates.crt, Alpine's /etc/ssl/cert.pem and Red Hat's
// bundle, looked up under root (tests pass a fake file system). "" when there is none. Defined in
// trust_store_{posix,win}.cpp.
std::string discover_ca_bundle(const std::string& root = "");

} // namespace net
