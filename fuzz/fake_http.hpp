// An HttpClient that answers every request with the fuzzer's bytes: what reaches the parsers of
// Plex and Stash answers is exactly what a broken or hostile server could send.
#pragma once

#include <cstdint>
#include <string>

#include "net/http.hpp"

namespace fuzzing {

class CannedHttp : public net::HttpClient {
public:
  CannedHttp(std::string body, int status, std::string content_type)
      : body_(std::move(body)), status_(status), content_type_(std::move(content_type)) {}
  tl::expected<net::Response, net::TransportError> send(const net::Request& /*request*/) override {
    net::Response r;
    r.status = status_;
    r.headers = {{"Content-Type", content_type_}, {"Retry-After", body_.substr(0, 40)}};
    r.body = body_;
    return r;
  }

private:
  std::string body_;
  int status_;
  std::string content_type_;
};

} // namespace fuzzing
