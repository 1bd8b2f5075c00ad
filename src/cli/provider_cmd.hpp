// The metadata provider's commands (spec 4.9). `provider url` prints the root URL to register in
// Plex as its first line (DESIGN.md fixed interface 10).
#pragma once

#include <string>
#include <vector>

#include "cli/operator.hpp"

namespace cli {

int cmd_provider_url(const OperatorOptions& o);
// The Plex webhook URL (issue #27), for Plex's Settings > Webhooks.
int cmd_webhook_url(const OperatorOptions& o);
int cmd_provider_match(const OperatorOptions& o, const std::string& filename, bool manual, const std::string& title);
int cmd_provider_rotate(const OperatorOptions& o);
// Listener, path secret, PMS's registration, each movie library's agent, a few items matched as
// PMS asks, one image through the proxy; every failure with its cause and fix. 0 when all pass.
int cmd_provider_check(const OperatorOptions& o);
// Registers the provider and an agent in PMS through its API; with switch_them, moves the named
// libraries onto the agent and refreshes them in full; with local_media, Plex Local Media joins the
// agent after PlexSync. A second run changes nothing.
int cmd_provider_register(const OperatorOptions& o, const std::vector<std::string>& libraries, bool switch_them,
                          bool local_media = true);

} // namespace cli
