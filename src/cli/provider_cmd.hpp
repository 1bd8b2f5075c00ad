// The metadata provider's commands (spec 4.9). `provider url` prints the root URL to register in
// Plex as its first line (DESIGN.md fixed interface 10).
#pragma once

#include <string>

#include "cli/operator.hpp"

namespace cli {

int cmd_provider_url(const OperatorOptions& o);
int cmd_provider_match(const OperatorOptions& o, const std::string& filename, bool manual, const std::string& title);
int cmd_provider_rotate(const OperatorOptions& o);

} // namespace cli
