// `plexsync provider url | check | match | register | rotate-token` (spec 4.9) and `plexsync webhook url`.
#include "cli/provider_cmd.hpp"

#include <algorithm>
#include <iostream>

#include <nlohmann/json.hpp>

#include "activity/webhook.hpp"
#include "cli/operator.hpp"
#include "config/settings.hpp"
#include "net/http.hpp"
#include "provider/identity.hpp"
#include "provider/service.hpp"
#include "store/db.hpp"
#include "sync/plan.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"
#include "worker/provider_host.hpp"
#include "worker/worker.hpp"

namespace cli {
namespace {

// Before a library moves to pull (spec 5.6): every item PlexSync synced there gives back the
// locks on provider-owned fields it set itself, where the value is still PlexSync's. Returns how
// many items were edited. The poster PlexSync uploaded keeps its lock while the worker uploads
// covers into pull libraries too (provider_skip_image_upload unchecked).
plex::Result<int> unlock_pushed_fields(store::Db& db, plex::PlexClient& plex, const std::string& section_key,
                                       bool keep_uploaded_poster) {
  auto stmt = db.prepare("SELECT rating_key, coalesce(written, '') FROM sync_records WHERE section_key = ?1");
  if (!stmt) {
    return tl::unexpected(plex::Error{plex::Failure::local, 0, std::nullopt, stmt.error().message});
  }
  stmt->bind(1, section_key);
  std::vector<std::pair<std::string, std::string>> records;
  while (true) {
    auto row = stmt->step();
    if (!row || !*row) {
      break;
    }
    records.emplace_back(stmt->text_at(0), stmt->text_at(1));
  }
  stmt->reset();
  int edited = 0;
  for (const auto& [rating_key, written] : records) {
    auto item = plex.item(rating_key);
    if (!item && item.error().kind == plex::Failure::not_found) {
      continue;
    }
    if (!item) {
      return tl::unexpected(item.error());
    }
    auto params = fieldsync::unlock_for_provider(*item, fieldsync::Written::from_json(written));
    if (item->locked.count("thumb") != 0U && !keep_uploaded_poster) {
      auto poster = db.prepare("SELECT 1 FROM posters WHERE rating_key = ?1 AND sha1 != ''");
      if (poster && poster->bind(1, rating_key).step().value_or(false)) {
        params.emplace_back("thumb.locked", "0"); // the selected poster is PlexSync's upload
      }
    }
    if (!params.empty()) {
      if (auto r = plex.edit(section_key, rating_key, params); !r) {
        return tl::unexpected(r.error());
      }
      ++edited;
    }
  }
  return edited;
}

constexpr const char* k_local_media = "tv.plex.agents.localmedia";

// Why Plex has no provider API: a server older than 1.43.0 (named with its version), else Plex's
// own error.
std::string providers_unavailable(plex::PlexClient& plex, const plex::Error& e) {
  if (e.status == 404) {
    auto identity = plex.call("GET", "/identity");
    const auto version = identity ? identity->value("version", std::string("(unknown)")) : std::string("(unknown)");
    return "Plex Media Server " + version +
           " has no custom metadata providers: they came with Plex Media Server 1.43.0 (pull mode was seen working "
           "with 1.43.4 and later). Update Plex, or keep using push mode (provider_enabled unchecked)";
  }
  return "Plex did not answer (" + e.message + "); Plex 1.43 or newer is needed for custom providers";
}

// A provider's or agent's id as PMS lists it: a JSON number or a numeric string (which type a real
// PMS uses is unverified, so both are taken; `.dump()` would quote a string into the URL). "" for
// anything else.
std::string plex_id(const nlohmann::json& item) {
  const auto it = item.find("id");
  if (it == item.end()) {
    return {};
  }
  if (it->is_number_integer() || it->is_number_unsigned()) {
    return it->dump();
  }
  if (it->is_string() && util::all_digits(it->get_ref<const std::string&>(), 18)) {
    return it->get<std::string>();
  }
  return {};
}

std::optional<bool> online_flag(const nlohmann::json& provider) {
  // Which type PMS gives the flag is unverified: a JSON boolean, 0/1, or "0"/"1" (its XML form).
  const auto it = provider.find("online");
  if (it == provider.end()) {
    return std::nullopt;
  }
  if (it->is_boolean()) {
    return it->get<bool>();
  }
  if (it->is_number_integer() || it->is_number_unsigned()) {
    return it->get<int64_t>() != 0;
  }
  if (it->is_string()) {
    const auto& v = it->get_ref<const std::string&>();
    if (v == "1" || v == "true") {
      return true;
    }
    if (v == "0" || v == "false") {
      return false;
    }
  }
  return std::nullopt;
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
  for (const auto& b : provider::base_urls(s)) {
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

int cmd_webhook_url(const OperatorOptions& o) {
  const auto loaded = worker::load_settings_for(o.data_dir);
  const auto& s = loaded.settings;
  auto urls = activity::webhook_urls(o.data_dir, s);
  if (!urls) {
    std::cerr << "plexsync: error: " << urls.error().message << "\n";
    return k_exit_problems;
  }
  if (o.json) {
    std::cout << nlohmann::json{{"urls", *urls}, {"enabled", s.plex_to_stash}}.dump(2) << "\n";
    return k_exit_ok;
  }
  for (const auto& u : *urls) {
    std::cout << u << "\n";
  }
  if (!s.plex_to_stash) {
    std::cerr << "note: plex_to_stash is off: the worker takes no webhooks until it is checked\n";
  }
  std::cerr << "Paste the first address into Plex: Settings > Webhooks > Add Webhook (Plex Pass). Plex must reach "
               "this address: set provider_listen (e.g. 0.0.0.0:9787) and provider_public_url when Plex runs "
               "elsewhere. Without Plex Pass, PlexSync polls Plex every plex_history_poll_seconds instead.\n";
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
  const auto answer =
      (*host)->provider().match(body, provider::base_urls(s).front(), provider::Provider::FollowUp::none);
  const auto& items = answer.at("MediaContainer").at("Metadata");
  if (o.json) {
    std::cout << answer.dump(2) << "\n";
  } else if (items.empty()) {
    std::cout << "no match: PMS would leave the item unmatched\n";
  } else {
    for (const auto& m : items) {
      std::cout << m.value("ratingKey", "") << "  score " << m.value("score", 0) << "  " << m.value("title", "")
                << "\n";
    }
  }
  return items.empty() ? k_exit_problems : k_exit_ok;
}

namespace {

// What `provider check` and `provider register` start from: the settings (a fatal problem, such
// as no Plex URL, stops them with its message), the secrets and the database.
struct Setup {
  config::Settings settings;
  provider::Secrets secrets;
  store::Db db;
  std::string identifier;
};
std::optional<Setup> open_setup(const std::string& data_dir, int& code) {
  const auto loaded = worker::load_settings_for(data_dir);
  for (const auto& p : loaded.problems) {
    if (p.fatal) {
      std::cerr << "plexsync: error: " << p.message << "\n";
      code = k_exit_unavailable;
      return std::nullopt;
    }
  }
  auto secrets = provider::load_or_create_secrets(data_dir);
  auto db = store::Db::open(data_dir);
  if (!secrets || !db) {
    std::cerr << "plexsync: error: " << (!secrets ? secrets.error().message : db.error().message) << "\n";
    code = k_exit_problems;
    return std::nullopt;
  }
  const auto& s = loaded.settings;
  auto identifier = provider::identifier(s.provider_identifier_suffix).value_or(provider::k_base_identifier);
  return Setup{s, std::move(*secrets), std::move(*db), std::move(identifier)};
}

// One line of `provider check`: what was checked, and on failure the cause and the fix.
struct Check {
  std::string what;
  bool ok = true;
  std::string detail; // the cause and the fix on failure; a note otherwise
};

// One request to the provider as PMS makes it (short timeouts: a check must not hang).
net::Response ask(const std::string& method, const std::string& url, const std::string& json_body = "") {
  const auto slash = url.find('/', url.find("://") + 3);
  auto base = net::Url::parse(url.substr(0, slash));
  if (!base) {
    return {};
  }
  net::ClientOptions opts;
  opts.base = *base;
  opts.connect_timeout_ms = 3000;
  opts.read_timeout_ms = 10000;
  net::Headers headers;
  if (!json_body.empty()) {
    headers.push_back({"Content-Type", "application/json"});
  }
  auto res = net::make_http_client(opts)->send(
      net::Request{method, slash == std::string::npos ? "/" : url.substr(slash), std::move(headers), json_body});
  return res ? *res : net::Response{};
}

// The file name PMS sends for an item: relative to its library folder (spec 2.5; the provider
// accepts every other form too).
std::string relative_to(const std::string& file, const std::vector<std::string>& locations) {
  for (const auto& l : locations) {
    if (file.rfind(l + "/", 0) == 0) {
      return file.substr(l.size() + 1);
    }
  }
  return file;
}

} // namespace

int cmd_provider_check(const OperatorOptions& o) {
  int code = k_exit_ok;
  auto setup = open_setup(o.data_dir, code);
  if (!setup) {
    return code;
  }
  const auto& s = setup->settings;
  const auto& identifier = setup->identifier;
  std::vector<Check> checks;
  const auto add = [&](std::string what, bool ok, std::string detail) {
    checks.push_back(Check{std::move(what), ok, std::move(detail)});
    return ok;
  };
  const auto base = provider::base_urls(s).front();
  const auto root = provider::root_url(base, setup->secrets, !s.provider_skip_token);
  const auto prefix = root.substr(0, root.size() - std::string("/movie").size());
  add("provider_enabled", s.provider_enabled,
      s.provider_enabled
          ? "on"
          : "off: check it in Stash (Settings > Plugins > PlexSync) or set PLEXSYNC_PROVIDER_ENABLED=true");
  // 1. The listener answers with our root document at the registered address.
  const auto answer = ask("GET", root);
  bool listening = false;
  if (answer.status == 0) {
    add("listener", false,
        "nothing answers at " + base +
            ": start the worker in service mode (plexsync worker --forever) with "
            "the provider enabled, or fix provider_listen / provider_public_url");
  } else if (answer.status != 200) {
    add("listener", false,
        "HTTP " + std::to_string(answer.status) + " from " + base +
            ": another program holds the port, or the worker runs with another data directory");
  } else {
    const auto doc = nlohmann::json::parse(answer.body, nullptr, false);
    const auto got = doc.is_object() && doc.contains("MediaProvider") && doc.at("MediaProvider").is_object()
                         ? doc.at("MediaProvider").value("identifier", "")
                         : std::string();
    listening =
        add("listener", got == identifier,
            got == identifier ? "answers at " + base
                              : "the root document names '" + got + "', not '" + identifier +
                                    "': is provider_identifier_suffix the same for the worker and this command?");
  }
  if (listening) {
    // The root answers from the start; match and metadata wait (503) for the first catalog build.
    const auto probe = ask("POST", root + "/library/metadata/matches", R"({"type":1})");
    add("catalog", probe.status == 200,
        probe.status == 200   ? "Stash's files are indexed"
        : probe.status == 503 ? "still indexing Stash's files for the first time (Plex's matches wait meanwhile); run "
                                "the check again soon"
                              : "a match answered HTTP " + std::to_string(probe.status) + "; see plexsync.log");
  }
  if (listening && !s.provider_skip_token) {
    const auto bare = ask("GET", base + "/movie");
    add("path secret", bare.status == 404,
        bare.status == 404 ? "required (requests without it get 404)"
                           : "a request without the secret got HTTP " + std::to_string(bare.status) +
                                 ": restart the worker so it reads provider_skip_token again");
  }
  // 2. PMS knows the provider at this URL, and which libraries use it.
  auto plex = worker::make_plex_client(s, setup->db);
  std::vector<plex::Section> pull;
  if (auto listed = plex->call("GET", "/media/providers/metadata"); !listed) {
    add("Plex lists the provider", false, providers_unavailable(*plex, listed.error()));
  } else {
    std::string uri;
    bool found = false;
    std::optional<bool> online;
    for (const auto& p : listed->value("MetadataAgentProvider", nlohmann::json::array())) {
      if (p.is_object() && p.value("identifier", "") == identifier) {
        found = true;
        uri = p.value("uri", "");
        online = online_flag(p);
      }
    }
    if (!found) {
      add("Plex lists the provider", false, "not registered: run plexsync provider register");
    } else {
      add("Plex lists the provider", uri == root,
          uri == root ? "registered with this URL"
                      : "registered with another URL (an old token or address): run plexsync provider register, "
                        "which updates it");
      // PMS loads a provider's root when it starts or when the provider's URL is set; one that did
      // not answer then stays offline, and PMS asks it nothing (evidence O1).
      if (!online) {
        add("Plex loaded the provider", true, "Plex does not say whether it loaded the provider (no online flag)");
      } else {
        add("Plex loaded the provider", *online,
            *online ? "online"
                    : "offline: Plex could not reach the provider when it last loaded it (PlexSync's worker was "
                      "down, or the address was wrong then). Run plexsync provider register, which makes Plex load "
                      "it again, or restart Plex Media Server while the worker runs");
      }
    }
  }
  if (auto sections = plex->sections(); !sections) {
    add("libraries", false, "Plex's libraries could not be read: " + sections.error().message);
  } else {
    std::string summary;
    for (const auto& sec : *sections) {
      if (sec.type != "movie") {
        continue;
      }
      const bool is_pull = sec.agent == identifier;
      if (is_pull) {
        pull.push_back(sec);
      }
      summary +=
          (summary.empty() ? "" : "; ") + sec.title + ": " + (is_pull ? "pull" : "push (agent " + sec.agent + ")");
    }
    add("libraries", !pull.empty(),
        pull.empty() ? summary + ". No library uses the PlexSync agent: plexsync provider register --library "
                                 "TITLE --switch"
                     : summary);
  }
  // 3. A few of Plex's items asked as PMS asks, and one image through the proxy.
  std::string image;
  for (const auto& sec : pull) {
    auto page = plex->list_section(sec.key, 0, 5);
    if (!page || !listening) {
      break;
    }
    for (const auto& item : page->items) {
      if (item.parts.empty()) {
        continue;
      }
      const auto name = relative_to(item.parts.front().file, sec.locations);
      const auto res = ask("POST", prefix + "/movie/library/metadata/matches",
                           nlohmann::json{{"type", 1}, {"filename", name}}.dump());
      const auto j = nlohmann::json::parse(res.body, nullptr, false);
      const auto found = j.is_object() && j.contains("MediaContainer") && j.at("MediaContainer").is_object()
                             ? j.at("MediaContainer").value("Metadata", nlohmann::json::array())
                             : nlohmann::json::array();
      const auto what = "match " + util::log::display_path(name);
      if (found.empty() || !found.at(0).is_object()) {
        add(what, false,
            "no scene has this file: check path_map (Plex's folders to Stash's), and that Stash scanned it");
        continue;
      }
      const std::string guid = found.at(0).value("guid", "");
      const bool agrees = item.guid.rfind(identifier + "://", 0) != 0 || item.guid == guid;
      add(what, agrees,
          agrees ? found.at(0).value("ratingKey", "")
                 : "Plex has it as " + item.guid + " but the provider answers " + guid +
                       ": refresh the item in Plex (Refresh Metadata) or run plexsync review");
      if (image.empty()) {
        image = found.at(0).value("thumb", "");
      }
    }
  }
  if (!image.empty()) {
    const auto res = ask("GET", image);
    const auto* type = res.header("Content-Type");
    add("image through the proxy", res.status == 200 && type != nullptr && type->rfind("image/", 0) == 0,
        res.status == 200 ? "served"
                          : "HTTP " + std::to_string(res.status) +
                                ": the provider could not fetch it from Stash (stash_url, stash_api_key)");
  }
  const bool all_ok = std::all_of(checks.begin(), checks.end(), [](const Check& c) { return c.ok; });
  if (o.json) {
    auto out = nlohmann::json::array();
    for (const auto& c : checks) {
      out.push_back({{"check", c.what}, {"ok", c.ok}, {"detail", c.detail}});
    }
    std::cout << nlohmann::json{{"ok", all_ok}, {"checks", out}}.dump(2) << "\n";
  } else {
    for (const auto& c : checks) {
      std::cout << (c.ok ? "ok    " : "FAIL  ") << c.what << ": " << c.detail << "\n";
    }
  }
  return all_ok ? k_exit_ok : k_exit_problems;
}

int cmd_provider_register(const OperatorOptions& o, const std::vector<std::string>& libraries, bool switch_them,
                          bool local_media) {
  int code = k_exit_ok;
  auto setup = open_setup(o.data_dir, code);
  if (!setup) {
    return code;
  }
  const auto& s = setup->settings;
  const auto& identifier = setup->identifier;
  const auto uri = provider::root_url(provider::base_urls(s).front(), setup->secrets, !s.provider_skip_token);
  auto plex = worker::make_plex_client(s, setup->db);
  const auto fail = [](const plex::Error& e) {
    std::cerr << "plexsync: error: Plex: " << e.message << "\n";
    return k_exit_problems;
  };
  int changes = 0;
  // 1. The provider: registered once, its URL kept current.
  auto listed = plex->call("GET", "/media/providers/metadata");
  if (!listed) {
    std::cerr << "plexsync: error: " << providers_unavailable(*plex, listed.error()) << "\n";
    return k_exit_problems;
  }
  bool registered = false;
  std::string local_media_id;
  for (const auto& p : listed->value("MetadataAgentProvider", nlohmann::json::array())) {
    if (p.value("identifier", "") == k_local_media) {
      local_media_id = plex_id(p);
    }
    if (p.value("identifier", "") == identifier) {
      registered = true;
      const auto provider_id = plex_id(p);
      // Offline: PMS could not load the root when it last tried (evidence O1). Setting the URL
      // again makes it load the provider now.
      const bool offline = online_flag(p) == std::optional<bool>(false);
      if (offline && !provider_id.empty() && p.value("uri", "") == uri) {
        if (auto r =
                plex->call("PUT", "/media/providers/metadata/" + provider_id + "?uri=" + util::percent_encode(uri));
            !r) {
          return fail(r.error());
        }
        std::cout << "Plex had the provider offline (it could not reach it when it last loaded providers); asked "
                     "Plex to load it again\n";
        ++changes;
      }
      if (p.value("uri", "") != uri) {
        if (provider_id.empty()) {
          std::cerr << "plexsync: error: Plex lists the provider without an id PlexSync can use: change its URL to "
                       "the one 'plexsync provider url' prints under Settings > Metadata Agents in Plex\n";
          return k_exit_problems;
        }
        if (auto r =
                plex->call("PUT", "/media/providers/metadata/" + provider_id + "?uri=" + util::percent_encode(uri));
            !r) {
          return fail(r.error());
        }
        std::cout << "updated the provider's address in Plex\n";
        ++changes;
      }
    }
  }
  if (!registered) {
    auto added = plex->call("POST", "/media/providers/metadata?uri=" + util::percent_encode(uri));
    if (!added) {
      std::cerr << "plexsync: error: Plex did not accept the provider (" << added.error().message
                << "): check that Plex reaches " << provider::base_urls(s).front()
                << " (provider_listen, provider_public_url) and that the worker runs with provider_enabled\n";
      return k_exit_problems;
    }
    std::cout << "registered the provider in Plex\n";
    ++changes;
  }
  // Image URLs hang below the address Plex was given (a request's Host header chooses nothing).
  (void)setup->db.put_kv(provider::k_registered_base_kv, provider::base_urls(s).front());
  // 2. An agent with it as the primary provider.
  auto groups = plex->call("GET", "/media/providers/metadata/group");
  if (!groups) {
    return fail(groups.error());
  }
  std::string group_id;
  nlohmann::json group_providers = nlohmann::json::array();
  for (const auto& g : groups->value("MetadataAgentProviderGroup", nlohmann::json::array())) {
    if (const auto id = plex_id(g); g.value("primaryIdentifier", "") == identifier && !id.empty()) {
      group_id = id;
      group_providers = g.value("MetadataAgentProvider", nlohmann::json::array());
    }
  }
  if (group_id.empty()) {
    auto made = plex->call("POST", "/media/providers/metadata/group?title=" + util::percent_encode(s.provider_title) +
                                       "&primaryIdentifier=" + util::percent_encode(identifier));
    if (!made) {
      return fail(made.error());
    }
    for (const auto& g : made->value("MetadataAgentProviderGroup", nlohmann::json::array())) {
      if (const auto id = plex_id(g); !id.empty()) {
        group_id = id;
        group_providers = g.value("MetadataAgentProvider", nlohmann::json::array());
      }
    }
    if (group_id.empty()) {
      std::cerr << "plexsync: error: Plex created the agent '" << s.provider_title
                << "' but did not answer its id: run plexsync provider register again (it finds the agent by "
                   "its provider), or choose the agent for the library in Plex\n";
      return k_exit_problems;
    }
    std::cout << "created the agent '" << s.provider_title << "' in Plex\n";
    ++changes;
  }
  // 2b. Plex Local Media after PlexSync in the agent: without it a library on a custom agent stops
  // picking up local subtitles, trailers and artwork (what ShokoRelay's and the MAL provider's
  // guides have users add by hand).
  const bool has_local_media = std::any_of(group_providers.begin(), group_providers.end(), [](const nlohmann::json& p) {
    return p.is_object() && p.value("identifier", "") == k_local_media;
  });
  if (local_media && !has_local_media) {
    if (local_media_id.empty()) {
      std::cout << "Plex lists no Plex Local Media provider: add it to the agent '" << s.provider_title
                << "' in Plex (Settings > Metadata Agents) if you keep subtitles, trailers or artwork beside your "
                   "videos\n";
    } else {
      if (auto r = plex->call("PUT", "/media/providers/metadata/group/" + group_id + "/items/" + local_media_id); !r) {
        return fail(r.error());
      }
      std::cout << "added Plex Local Media to the agent after PlexSync (local subtitles, trailers and artwork; "
                   "--no-local-media leaves it out)\n";
      ++changes;
    }
  }
  // 3. Libraries moved onto it, each refreshed in full so PMS asks the provider for every item.
  auto sections = plex->sections();
  if (!sections) {
    return fail(sections.error());
  }
  for (const auto& title : libraries) {
    const auto it =
        std::find_if(sections->begin(), sections->end(), [&](const plex::Section& sec) { return sec.title == title; });
    if (it == sections->end()) {
      std::cerr << "plexsync: error: Plex has no library '" << title << "'\n";
      return k_exit_problems;
    }
    if (it->agent == identifier) {
      std::cout << "library '" << title << "' already uses the PlexSync agent\n";
      continue;
    }
    if (!switch_them) {
      std::cout << "library '" << title << "' uses " << it->agent
                << ": --switch moves it to the PlexSync agent (its items are then matched and refreshed from Stash; "
                   "fields a person edited in Plex stay as they are)\n";
      continue;
    }
    std::cout << "moving library '" << title << "' from " << it->agent << " to the PlexSync agent and refreshing it\n";
    const auto unlocked = unlock_pushed_fields(setup->db, *plex, it->key, !s.provider_skip_image_upload);
    if (!unlocked) {
      return fail(unlocked.error());
    }
    std::cout << "  unlocked the fields PlexSync had set on " << *unlocked
              << " item(s) (fields a person edited in Plex keep their lock)\n";
    if (auto r = plex->call("PUT", "/library/sections/" + util::percent_encode(it->key) + "?agent=" +
                                       util::percent_encode(identifier) + "&metadataAgentProviderGroupId=" + group_id);
        !r) {
      return fail(r.error());
    }
    if (auto r = plex->call("POST", "/library/sections/" + util::percent_encode(it->key) + "/refresh?force=1"); !r) {
      return fail(r.error());
    }
    ++changes;
  }
  if (changes == 0) {
    std::cout << "nothing to change: Plex already has the provider and the agent\n";
  }
  return k_exit_ok;
}

int cmd_provider_rotate(const OperatorOptions& o) {
  auto secrets = provider::rotate_token(o.data_dir);
  if (!secrets) {
    std::cerr << "plexsync: error: " << secrets.error().message << "\n";
    return k_exit_problems;
  }
  const auto loaded = worker::load_settings_for(o.data_dir);
  std::cout << provider::root_url(provider::base_urls(loaded.settings).front(), *secrets, true) << "\n";
  std::cerr << "The old provider URL no longer works once the worker restarts (plexsync worker --stop, then start "
               "it): change the provider's URL in Plex to the one above.\n";
  return k_exit_ok;
}

} // namespace cli
