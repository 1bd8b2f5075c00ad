// Hostile clients on loopback aliases: 127.0.0.2 and up stand for other machines on the allowed
// network (Linux answers the whole 127/8 on lo).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>

namespace testing_support {

inline std::unique_ptr<boost::asio::ip::tcp::socket> connect_from(boost::asio::io_context& ioc,
                                                                  const std::string& source, uint16_t port) {
  namespace asio = boost::asio;
  auto socket = std::make_unique<asio::ip::tcp::socket>(ioc);
  socket->open(asio::ip::tcp::v4());
  socket->bind({asio::ip::make_address(source), 0});
  socket->connect({asio::ip::make_address("127.0.0.1"), port});
  return socket;
}

} // namespace testing_support
