// What both servers share: opening the listening socket, naming a connection's peer, and turning
// the request Beast parsed into the handler's ServerRequest. Included only by the two server
// translation units.
#pragma once

#include <string>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>

#include "net/server.hpp"
#include "util/fatal.hpp"
#include "util/strings.hpp"

namespace net {

// Binds and listens on host:port; returns the port bound (port 0 picks one). Throws util::Fatal.
inline uint16_t open_acceptor(boost::asio::ip::tcp::acceptor& acceptor, const std::string& host, uint16_t port) {
  namespace asio = boost::asio;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) {
    throw util::Fatal("cannot listen on '" + host + "': not an IP address");
  }
  const asio::ip::tcp::endpoint endpoint(address, port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    acceptor.bind(endpoint, ec);
  }
  if (!ec) {
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    throw util::Fatal("cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  }
  return acceptor.local_endpoint().port();
}

// The peer's address as allow-lists read it ("192.168.1.5"; a v4-mapped v6 address as v4).
inline std::string peer_address(const boost::asio::ip::tcp::socket& socket) {
  namespace asio = boost::asio;
  boost::system::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  if (ec) {
    return {};
  }
  auto address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address.to_string();
}

inline ServerRequest to_server_request(boost::beast::http::request<boost::beast::http::string_body>& msg,
                                       const std::string& peer) {
  ServerRequest request;
  request.peer = peer;
  request.method = std::string(msg.method_string());
  request.target = std::string(msg.target());
  const auto q = request.target.find('?');
  request.path = util::percent_decode(request.target.substr(0, q), false);
  request.query = q == std::string::npos ? "" : request.target.substr(q + 1);
  for (const auto& field : msg) {
    request.headers.push_back(Header{std::string(field.name_string()), std::string(field.value())});
  }
  request.body = std::move(msg.body());
  return request;
}

} // namespace net
