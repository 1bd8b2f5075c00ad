// The only translation unit that includes Beast's client side. One keep-alive connection per
// client; every phase (resolve+connect, TLS handshake, write, each read) has its own timer and
// the whole exchange an overall deadline.
#include <algorithm>
#include <chrono>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <openssl/x509v3.h>

#include "net/http.hpp"
#include "net/trust_store.hpp"

namespace net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

class BeastClient final : public HttpClient {
public:
  explicit BeastClient(ClientOptions options) : options_(std::move(options)), ssl_ctx_(asio::ssl::context::tls_client) {
    if (options_.base.scheme == "https") {
      setup_tls();
    }
  }

  tl::expected<Response, TransportError> send(const Request& request) override {
    const bool reused = connected();
    auto result = exchange(request);
    // A keep-alive connection the server closed while idle fails before any byte of the
    // answer: reconnect once. Every request we send is idempotent.
    if (!result && reused && result.error().kind == TransportFailure::reset) {
      close();
      result = exchange(request);
    }
    if (!result) {
      close();
    }
    return result;
  }

  tl::expected<void, TransportError> listen(const Request& upgrade, size_t max_message,
                                            const std::function<void()>& on_open,
                                            const std::function<void(const std::string&)>& on_message,
                                            const std::function<bool()>& keep_going) override {
    close(); // a connection of its own, upgraded for good
    const auto deadline = Clock::now() + std::chrono::milliseconds(options_.total_timeout_ms);
    if (auto c = connect(deadline); !c) {
      close();
      return tl::unexpected(c.error());
    }
    auto ended = tls_ ? listen_on(*tls_, upgrade, max_message, on_open, on_message, keep_going)
                      : listen_on(*tcp_, upgrade, max_message, on_open, on_message, keep_going);
    close();
    return ended;
  }

private:
  template <typename Stream>
  tl::expected<void, TransportError>
  listen_on(Stream& stream, const Request& upgrade, size_t max_message, const std::function<void()>& on_open,
            const std::function<void(const std::string&)>& on_message, const std::function<bool()>& keep_going) {
    websocket::stream<Stream&> ws(stream);
    ws.read_message_max(max_message);
    ws.set_option(websocket::stream_base::decorator([&upgrade](websocket::request_type& req) {
      for (const auto& h : upgrade.headers) {
        req.set(h.name, h.value);
      }
    }));
    const auto& base = options_.base;
    const bool default_port = base.port == (base.scheme == "https" ? 443 : 80);
    const std::string host = base.host + (default_port ? "" : ":" + std::to_string(base.port));
    websocket::response_type answer;
    const auto deadline = Clock::now() + std::chrono::milliseconds(options_.read_timeout_ms);
    const auto hec = run(remaining(deadline, options_.read_timeout_ms),
                         [&](auto handler) { ws.async_handshake(answer, host, upgrade.target, handler); });
    if (hec) {
      if (answer.result_int() != 0 && answer.result_int() != 101) {
        return tl::unexpected(
            TransportError{TransportFailure::protocol,
                           "the server answered the WebSocket upgrade with HTTP " + std::to_string(answer.result_int()),
                           static_cast<int>(answer.result_int())});
      }
      return tl::unexpected(classify_io(hec, deadline, "opening the WebSocket"));
    }
    // From here the WebSocket's own timers: pings after a quiet half of the idle time, and an end
    // when the server answers none of them.
    lowest().expires_never();
    websocket::stream_base::timeout idle{};
    idle.handshake_timeout = std::chrono::seconds(10);
    idle.idle_timeout = std::chrono::seconds(120);
    idle.keep_alive_pings = true;
    ws.set_option(idle);
    on_open();
    beast::flat_buffer buffer;
    beast::error_code rec;
    bool done = false;
    std::function<void()> read_next = [&] {
      ws.async_read(buffer, [&](beast::error_code e, size_t /*bytes*/) {
        if (e) {
          rec = e;
          done = true;
          return;
        }
        if (ws.got_text()) {
          on_message(beast::buffers_to_string(buffer.data()));
        }
        buffer.consume(buffer.size());
        read_next();
      });
    };
    read_next();
    ioc_.restart();
    while (!done) {
      ioc_.run_for(std::chrono::milliseconds(200));
      if (!done && !keep_going()) {
        beast::error_code ignored;
        lowest().socket().close(ignored); // ends the pending read; the ping timer may stay queued
        ioc_.restart();
        for (int i = 0; i < 10 && !done; ++i) {
          ioc_.run_one_for(std::chrono::milliseconds(100));
        }
        return {};
      }
      if (ioc_.stopped()) {
        ioc_.restart();
      }
    }
    if (rec == websocket::error::closed) {
      return {};
    }
    return tl::unexpected(classify_io(rec, Clock::time_point::max(), "reading the WebSocket"));
  }

  [[nodiscard]] bool connected() const { return tcp_ != nullptr || tls_ != nullptr; }

  void close() {
    beast::error_code ec;
    if (tls_) {
      beast::get_lowest_layer(*tls_).socket().close(ec);
    }
    if (tcp_) {
      tcp_->socket().close(ec);
    }
    tls_.reset();
    tcp_.reset();
  }

  void setup_tls() {
    if (!options_.verify_tls) {
      ssl_ctx_.set_verify_mode(asio::ssl::verify_none);
      return;
    }
    ssl_ctx_.set_verify_mode(asio::ssl::verify_peer);
    beast::error_code ec;
    if (options_.ca_file.empty()) {
      auto trust = load_default_trust(ssl_ctx_.native_handle());
      bundle_ = std::move(trust.source);
      tls_setup_error_ = std::move(trust.error);
      return;
    }
    bundle_ = options_.ca_file;
    ssl_ctx_.load_verify_file(bundle_, ec);
    if (ec) {
      tls_setup_error_ = "cannot load the CA certificates in " + bundle_ + " (" + ec.message() +
                         "): point plex_ca_file or SSL_CERT_FILE at a readable PEM file";
    }
  }

  // Why a handshake failed, in words a person can act on.
  std::string handshake_failure(const Url& base, const beast::error_code& ec) {
    const long verify = SSL_get_verify_result(tls_->native_handle());
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      return "TLS certificate at " + base.display() + " is not valid for the host name '" + base.host +
             "': use a name the certificate was issued for in plex_url (for Plex's own certificates, the "
             "*.plex.direct address Plex shows under Settings > Network)";
    }
    if (verify != X509_V_OK) {
      return "TLS certificate at " + base.display() + " is not trusted (" + X509_verify_cert_error_string(verify) +
             ", checked against " + bundle_ +
             "): set plex_ca_file to the CA certificate that signed it, or check plex_skip_tls_verify to accept it "
             "unchecked";
    }
    return "TLS handshake with " + base.display() + " failed: " + ec.message();
  }

  static bool is_ip_literal(const std::string& host) {
    beast::error_code ec;
    (void)asio::ip::make_address(host, ec);
    return !ec;
  }

  // A Plex Media Server addressed by IP serves its own certificate, issued for
  // *.<hash>.plex.direct. Plex's apps connect to <ip-with-dashes>.<hash>.plex.direct, a name public
  // DNS resolves to that IP; PlexSync checks the certificate against the same name without the DNS
  // lookup (which routers with DNS-rebinding protection block). A certificate issued for the IP
  // itself is accepted too. The chain was verified in the handshake.
  std::string check_ip_peer(const Url& base) {
    X509* cert = SSL_get1_peer_certificate(tls_->native_handle());
    if (cert == nullptr) {
      return "Plex at " + base.display() + " sent no TLS certificate";
    }
    std::unique_ptr<X509, decltype(&X509_free)> owned(cert, X509_free);
    if (X509_check_ip_asc(cert, base.host.c_str(), 0) == 1) {
      return {};
    }
    auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    std::string plex_direct;
    for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      if (name->type != GEN_DNS) {
        continue;
      }
      const auto* data = ASN1_STRING_get0_data(name->d.dNSName);
      const std::string dns(reinterpret_cast<const char*>(data),
                            static_cast<size_t>(ASN1_STRING_length(name->d.dNSName)));
      const std::string suffix = ".plex.direct";
      if (dns.rfind("*.", 0) == 0 && dns.size() > 2 + suffix.size() &&
          dns.compare(dns.size() - suffix.size(), suffix.size(), suffix) == 0 &&
          dns.find('.', 2) == dns.size() - suffix.size()) {
        plex_direct = dns.substr(2); // "<hash>.plex.direct"
      }
    }
    GENERAL_NAMES_free(names);
    if (!plex_direct.empty()) {
      std::string dashed = base.host;
      std::replace(dashed.begin(), dashed.end(), '.', '-');
      std::replace(dashed.begin(), dashed.end(), ':', '-');
      const std::string expected = dashed + "." + plex_direct;
      if (X509_check_host(cert, expected.c_str(), expected.size(), 0, nullptr) == 1) {
        return {};
      }
    }
    return "TLS certificate at " + base.display() + " is issued neither for the address " + base.host +
           " nor for Plex's own name for it (" +
           (plex_direct.empty() ? std::string("<ip-with-dashes>.<hash>.plex.direct") : "*." + plex_direct) +
           "): use the host name the certificate was issued for in plex_url, or set plex_ca_file to the CA "
           "that issued a certificate for this address";
  }

  beast::tcp_stream& lowest() { return tls_ ? beast::get_lowest_layer(*tls_) : *tcp_; }

  // Runs one async operation to completion with the given timeout.
  template <typename Start> beast::error_code run(std::chrono::milliseconds timeout, Start&& start) {
    beast::error_code result = asio::error::would_block;
    lowest().expires_after(timeout);
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    drive([this] { lowest().cancel(); });
    return result;
  }

  [[nodiscard]] bool aborted() const { return options_.abort != nullptr && options_.abort->load(); }

  // Runs the pending operation to its end; when the owner aborts, cancel() ends it early.
  template <typename Cancel> void drive(Cancel&& cancel) {
    ioc_.restart();
    if (options_.abort == nullptr) {
      ioc_.run();
      return;
    }
    bool cancelled = false;
    while (!ioc_.stopped()) {
      ioc_.run_for(std::chrono::milliseconds(100));
      if (!cancelled && aborted()) {
        cancel();
        cancelled = true;
      }
    }
  }

  std::chrono::milliseconds remaining(Clock::time_point deadline, int phase_ms) const {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return std::max(std::chrono::milliseconds(1), std::min(left, std::chrono::milliseconds(phase_ms)));
  }

  static TransportError error(TransportFailure kind, const std::string& what) { return TransportError{kind, what}; }

  tl::expected<void, TransportError> connect(Clock::time_point deadline) {
    const auto& base = options_.base;
    tcp::resolver resolver(ioc_);
    beast::error_code ec;
    const auto endpoints = resolver.resolve(base.host, std::to_string(base.port), ec);
    if (ec) {
      return tl::unexpected(error(TransportFailure::dns, "cannot resolve host '" + base.host + "': " + ec.message()));
    }
    auto stream = std::make_unique<beast::tcp_stream>(ioc_);
    beast::error_code cec = asio::error::would_block;
    stream->expires_after(remaining(deadline, options_.connect_timeout_ms));
    stream->async_connect(endpoints, [&cec](beast::error_code e, const tcp::endpoint&) { cec = e; });
    drive([&stream] { stream->cancel(); });
    if (aborted()) {
      return tl::unexpected(error(TransportFailure::aborted, "stopped: PlexSync is shutting down"));
    }
    if (cec == beast::error::timeout) {
      return tl::unexpected(error(TransportFailure::connect_timeout, "no connection to " + base.display() + " within " +
                                                                         std::to_string(options_.connect_timeout_ms) +
                                                                         " ms"));
    }
    if (cec) {
      const auto kind =
          cec == asio::error::connection_refused ? TransportFailure::connect_refused : TransportFailure::reset;
      return tl::unexpected(error(kind, "cannot connect to " + base.display() + ": " + cec.message()));
    }
    stream->socket().set_option(tcp::no_delay(true), ec);
    if (base.scheme != "https") {
      tcp_ = std::move(stream);
      return {};
    }
    if (!tls_setup_error_.empty()) {
      return tl::unexpected(error(TransportFailure::tls, tls_setup_error_));
    }
    tls_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(*stream), ssl_ctx_);
    if (SSL_set_tlsext_host_name(tls_->native_handle(), base.host.c_str()) != 1) {
      close();
      return tl::unexpected(error(TransportFailure::tls, "cannot set TLS server name"));
    }
    const bool is_ip = is_ip_literal(base.host);
    if (options_.verify_tls && !is_ip && SSL_set1_host(tls_->native_handle(), base.host.c_str()) != 1) {
      // OpenSSL's own name check, so a mismatch is reported as one (not as "unspecified").
      close();
      return tl::unexpected(error(TransportFailure::tls, "cannot check the TLS host name " + base.host));
    }
    // An IP address: the chain is verified in the handshake, the name after it (plex.direct below).
    const auto hec = run(remaining(deadline, options_.connect_timeout_ms),
                         [this](auto handler) { tls_->async_handshake(asio::ssl::stream_base::client, handler); });
    if (hec) {
      auto message = handshake_failure(base, hec);
      close();
      return tl::unexpected(error(TransportFailure::tls, message));
    }
    if (options_.verify_tls && is_ip) {
      if (auto problem = check_ip_peer(base); !problem.empty()) {
        close();
        return tl::unexpected(error(TransportFailure::tls, problem));
      }
    }
    return {};
  }

  template <typename Stream>
  tl::expected<Response, TransportError> exchange_on(Stream& stream, const Request& request,
                                                     Clock::time_point deadline) {
    http::request<http::string_body> req;
    req.method_string(request.method);
    req.target(options_.base.base_path + request.target);
    req.version(11);
    const bool default_port = (options_.base.scheme == "http" && options_.base.port == 80) ||
                              (options_.base.scheme == "https" && options_.base.port == 443);
    const bool v6 = options_.base.host.find(':') != std::string::npos;
    std::string host = v6 ? "[" + options_.base.host + "]" : options_.base.host;
    if (!default_port) {
      host += ":" + std::to_string(options_.base.port);
    }
    req.set(http::field::host, host);
    req.set(http::field::user_agent, "PlexSync/" PLEXSYNC_VERSION);
    for (const auto& h : request.headers) {
      req.set(h.name, h.value);
    }
    req.body() = request.body;
    req.prepare_payload();

    auto wec = run(remaining(deadline, options_.read_timeout_ms),
                   [&](auto handler) { http::async_write(stream, req, handler); });
    if (wec) {
      return tl::unexpected(classify_io(wec, deadline, "sending the request"));
    }

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(options_.max_response_bytes);
    parser.header_limit(64 * 1024);
    parser.skip(request.method == "HEAD"); // a HEAD answer announces a length but carries no body
    while (!parser.is_done()) {
      if (Clock::now() >= deadline) {
        return tl::unexpected(error(TransportFailure::deadline,
                                    "no complete answer within " + std::to_string(options_.total_timeout_ms) + " ms"));
      }
      auto rec = run(remaining(deadline, options_.read_timeout_ms),
                     [&](auto handler) { http::async_read_some(stream, buffer, parser, handler); });
      if (rec == http::error::body_limit || rec == http::error::header_limit) {
        return tl::unexpected(error(TransportFailure::too_large,
                                    "response larger than " + std::to_string(options_.max_response_bytes) + " bytes"));
      }
      if (rec) {
        return tl::unexpected(classify_io(rec, deadline, "reading the response"));
      }
    }
    Response response;
    auto msg = parser.release();
    response.status = static_cast<int>(msg.result_int());
    for (const auto& field : msg) {
      response.headers.push_back(Header{std::string(field.name_string()), std::string(field.value())});
    }
    response.body = std::move(msg.body());
    if (!msg.keep_alive()) {
      close();
    }
    return response;
  }

  TransportError classify_io(const beast::error_code& ec, Clock::time_point deadline, const char* phase) {
    if (aborted()) {
      return error(TransportFailure::aborted, std::string("stopped while ") + phase + ": PlexSync is shutting down");
    }
    if (ec == beast::error::timeout) {
      if (Clock::now() >= deadline) {
        return error(TransportFailure::deadline, std::string("overall deadline exceeded while ") + phase);
      }
      return error(TransportFailure::read_timeout,
                   std::string("no data for ") + std::to_string(options_.read_timeout_ms) + " ms while " + phase);
    }
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::broken_pipe || ec == http::error::partial_message ||
        ec == asio::ssl::error::stream_truncated) {
      return error(TransportFailure::reset, std::string("connection closed while ") + phase);
    }
    if (ec.category() == asio::error::get_ssl_category()) {
      return error(TransportFailure::tls, std::string("TLS error while ") + phase + ": " + ec.message());
    }
    if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
      return error(TransportFailure::protocol, std::string("malformed HTTP while ") + phase + ": " + ec.message());
    }
    return error(TransportFailure::reset, std::string("I/O error while ") + phase + ": " + ec.message());
  }

  tl::expected<Response, TransportError> exchange(const Request& request) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(options_.total_timeout_ms);
    if (!connected()) {
      auto c = connect(deadline);
      if (!c) {
        close();
        return tl::unexpected(c.error());
      }
    }
    if (tls_) {
      return exchange_on(*tls_, request, deadline);
    }
    return exchange_on(*tcp_, request, deadline);
  }

  ClientOptions options_;
  asio::io_context ioc_;
  asio::ssl::context ssl_ctx_;
  std::string bundle_; // where trusted CAs came from, for error messages
  std::string tls_setup_error_;
  std::unique_ptr<beast::tcp_stream> tcp_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls_;
};

} // namespace

std::unique_ptr<HttpClient> make_http_client(const ClientOptions& options) {
  return std::make_unique<BeastClient>(options);
}

} // namespace net
