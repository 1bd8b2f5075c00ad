// `plexsync provider url | match | rotate-token` (spec 4.9).
#include <iostream>

#include <boost/asio/ip/host_name.hpp>

#include <nlohmann/json.hpp>

#include "cli/operator.hpp"
#include "cli/provider_cmd.hpp"
#include "config/settings.hpp"
#include "provider/service.hpp"
#include "worker/provider_host.hpp"

namespace cli {
namespace {

// Where PMS can reach the provider, most likely first: the public URL when set; else the listen
// address (loopback for an all-interfaces listener, which this machine reaches), then this host's name.
std::vector<std::string> bases(const config::Settings& s) {
  std::vector<std::string> out;
  if (!s.provider_public_url.empty()) {
    out.push_back(s.provider_public_url);
  }
  const auto listen = config::parse_listen(s.provider_listen).value_or(config::Listen{"127.0.0.1", 9787});
  const auto port = std::to_string(listen.port);
  if (listen.host == "0.0.0.0" || listen.host == "::") {
    out.push_back("http://127.0.0.1:" + port);
    boost::system::error_code ec;
    if (const auto name = boost::asio::ip::host_name(ec); !ec && !name.empty()) {
      out.push_back("http://" + name + ":" + port);
    }
  } else {
    out.push_back("http://" + (listen.host.find(':') != std::string::npos ? "[" + listen.host + "]" : listen.host) +
                  ":" + port);
  }
  return out;
}

} // namespace

int cmd_provider_url(const OperatorOptions& o) {
  const auto loaded = worker::load_settings_for(o.data_dir);
  auto secrets = provider::load_or_create_secrets(o.data_dir);
  if (!secrets) {
    std::cerr << "plexsync: error: " << secrets.error().message << "\n";
    return k_exit_problems;
  }
  const auto& s = loaded.settings;
  std::vector<std::string> urls;
  for (const auto& b : bases(s)) {
    urls.push_back(provider::root_url(b, *secrets, !s.provider_skip_token));
  }
  if (o.json) {
    std::cout << nlohmann::json{{"urls", urls}, {"enabled", s.provider_enabled}}.dump(2) << "\n";
    return k_exit_ok;
  }
  for (const auto& u : urls) {
    std::cout << u << "\n";
  }
  if (!s.provider_enabled) {
    std::cerr << "note: provider_enabled is off: the worker serves nothing until it is checked (or "
                 "PLEXSYNC_PROVIDER_ENABLED=true)\n";
  }
  std::cerr << "Register the first address in Plex: Settings > Metadata Agents > Add Provider; then an agent with "
               "it as the primary provider, and choose that agent for a Movies library.\n";
  return k_exit_ok;
}

int cmd_provider_match(const OperatorOptions& o, const std::string& filename, bool manual, const std::string& title) {
  auto host = worker::ProviderHost::offline(o.data_dir);
  if (!host) {
    std::cerr << "plexsync: error: " << host.error().message << "\n";
    return k_exit_problems;
  }
  nlohmann::json body = {{"type", 1}, {"filename", filename}, {"manual", manual ? 1 : 0}};
  if (!title.empty()) {
    body["title"] = title;
  }
  const auto s = (*host)->settings();
  const auto answer = (*host)->provider().match(body, bases(s).front() + (s.provider_skip_token ? "" : "/p/<token>"));
  const auto& items = answer.at("MediaContainer").at("Metadata");
  if (o.json) {
    std::cout << answer.dump(2) << "\n";
  } else if (items.empty()) {
    std::cout << "no match: PMS would leave the item unmatched\n";
  } else {
    for (const auto& m : items) {
      std::cout << m.value("ratingKey", "") << "  score " << m.value("score", 0) << "  " << m.value("title", "") << "\n";
    }
  }
  return items.empty() ? k_exit_problems : k_exit_ok;
}

int cmd_provider_rotate(const OperatorOptions& o) {
  auto secrets = provider::rotate_token(o.data_dir);
  if (!secrets) {
    std::cerr << "plexsync: error: " << secrets.error().message << "\n";
    return k_exit_problems;
  }
  const auto loaded = worker::load_settings_for(o.data_dir);
  std::cout << provider::root_url(bases(loaded.settings).front(), *secrets, true) << "\n";
  std::cerr << "The old provider URL no longer works once the worker restarts (plexsync worker --stop, then start "
               "it): change the provider's URL in Plex to the one above.\n";
  return k_exit_ok;
}

} // namespace cli
