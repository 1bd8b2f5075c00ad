#include "stash/protocol.hpp"

#include <cstdio>

#include "util/log.hpp"

namespace stash {

std::string ServerConnection::base_url() const {
  const bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

namespace {

std::string string_or(const nlohmann::json& obj, const char* key, const std::string& fallback) {
  if (obj.is_object() && obj.contains(key) && obj.at(key).is_string()) {
    return obj.at(key).get<std::string>();
  }
  return fallback;
}

} // namespace

util::Result<PluginInput> parse_plugin_input(const std::string& text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) { // parse_error, and out_of_range for huge numbers
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
      return util::fail("no input on stdin: PlexSync is a Stash plugin; run it from Stash, or use "
                        "'plexsync --help' for the command line");
    }
    return util::fail(std::string("stdin is not valid JSON (") + e.what() + "): expected the plugin input Stash sends");
  }
  if (!doc.is_object()) {
    return util::fail("stdin must be a JSON object with server_connection and args");
  }
  PluginInput input;
  if (doc.contains("server_connection") && doc.at("server_connection").is_object()) {
    const auto& sc = doc.at("server_connection");
    input.server.scheme = string_or(sc, "Scheme", "http");
    if (input.server.scheme != "http" && input.server.scheme != "https") {
      return util::fail("server_connection.Scheme must be http or https, got '" + input.server.scheme + "'");
    }
    std::string host = string_or(sc, "Host", "127.0.0.1");
    // Stash passes its listen address verbatim; a wildcard means "this machine".
    if (host.empty() || host == "0.0.0.0") {
      host = "127.0.0.1";
    } else if (host == "::" || host == "[::]") {
      host = "::1";
    }
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    input.server.host = host;
    if (sc.contains("Port") && sc.at("Port").is_number_integer()) {
      const auto port = sc.at("Port").get<int64_t>();
      if (port <= 0 || port > 65535) {
        return util::fail("server_connection.Port must be 1-65535, got " + std::to_string(port));
      }
      input.server.port = static_cast<int>(port);
    }
    if (sc.contains("SessionCookie") && sc.at("SessionCookie").is_object()) {
      input.server.cookie_name = string_or(sc.at("SessionCookie"), "Name", "session");
      input.server.cookie_value = string_or(sc.at("SessionCookie"), "Value", "");
    }
    input.server.given = sc.contains("Host") && sc.contains("Port") && sc.at("Port").is_number_integer();
    input.server.dir = string_or(sc, "Dir", "");
    input.server.plugin_dir = string_or(sc, "PluginDir", "");
  }
  if (doc.contains("args")) {
    if (!doc.at("args").is_object() && !doc.at("args").is_null()) {
      return util::fail("args must be a JSON object");
    }
    if (doc.at("args").is_object()) {
      input.args = doc.at("args");
    }
  }
  input.mode = string_or(input.args, "mode", "");
  if (input.args.contains("hookContext") && input.args.at("hookContext").is_object()) {
    const auto& hc = input.args.at("hookContext");
    HookContext hook;
    hook.type = string_or(hc, "type", "");
    if (hc.contains("id")) {
      const auto& id = hc.at("id");
      if (id.is_number_unsigned()) {
        hook.scene_id = std::to_string(id.get<uint64_t>()); // 2^63 and above stay what they are
      } else if (id.is_number_integer()) {
        hook.scene_id = std::to_string(id.get<int64_t>());
      } else if (id.is_string()) {
        hook.scene_id = id.get<std::string>();
      }
    }
    if (hc.contains("inputFields") && hc.at("inputFields").is_array()) {
      hook.has_input_fields = true;
      for (const auto& f : hc.at("inputFields")) {
        if (f.is_string()) {
          hook.input_fields.push_back(f.get<std::string>());
        }
      }
    }
    if (hc.contains("input")) {
      hook.input = hc.at("input");
    }
    input.hook = std::move(hook);
  }
  return input;
}

void write_result(const nlohmann::json& output, const std::optional<std::string>& error) {
  nlohmann::json result = {{"output", output}, {"error", error ? nlohmann::json(*error) : nlohmann::json()}};
  // Stash shows this in its log and task list: registered secrets and any pasted into a URL are masked.
  const std::string text = util::log::redact(result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  (void)std::fwrite(text.data(), 1, text.size(), stdout);
  (void)std::fputc('\n', stdout);
  (void)std::fflush(stdout);
}

} // namespace stash
