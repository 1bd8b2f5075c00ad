// Stash's raw plugin protocol: one JSON document on stdin, one JSON object on stdout.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/expected.hpp"

namespace stash {

struct ServerConnection {
  std::string scheme = "http";
  std::string host = "127.0.0.1"; // wildcard listen hosts already mapped to loopback
  int port = 9999;
  std::string cookie_name = "session";
  std::string cookie_value; // empty when Stash sent a null SessionCookie
  std::string dir;
  std::string plugin_dir;
  bool given = false; // server_connection was there with a Host and a Port
  // http://host:port with IPv6 bracketed.
  [[nodiscard]] std::string base_url() const;
};

struct HookContext {
  std::string type;     // "Scene.Update.Post", ...
  std::string scene_id; // as given (digits for an integer id); empty when absent
  std::vector<std::string> input_fields;
  bool has_input_fields = false;
  nlohmann::json input; // may be null
};

struct PluginInput {
  ServerConnection server;
  nlohmann::json args = nlohmann::json::object();
  std::string mode;
  std::optional<HookContext> hook;
};

util::Result<PluginInput> parse_plugin_input(const std::string& text);

// Prints {"output": ..., "error": ...} on stdout, exactly once per process.
void write_result(const nlohmann::json& output, const std::optional<std::string>& error);

} // namespace stash
