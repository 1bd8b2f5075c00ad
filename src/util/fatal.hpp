// The one exception type allowed to reach main(): a message a person can act on.
#pragma once

#include <stdexcept>
#include <string>

namespace util {

class Fatal : public std::runtime_error {
public:
  explicit Fatal(const std::string& message) : std::runtime_error(message) {}
};

} // namespace util
