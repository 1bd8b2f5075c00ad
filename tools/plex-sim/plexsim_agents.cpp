// plexsim as a client of custom metadata providers (specs/plex-metadata-provider.md 7.3): the
// provider and agent API of section 2.10, scans of custom-agent sections that POST match and GET
// metadata from the provider, refresh, Fix Match and bind, a provider timeout, and every request
// made to a provider recorded. No lock is held while a provider is called.
#include <regex>

#include "plexsim.hpp"
#include "util/strings.hpp"

namespace plexsim {
namespace {

net::ServerResponse status_answer(int status, const std::string& why = "") {
  auto r = sim::text_response(status, "text/html",
                              "<html><body><h1>" + std::to_string(status) + "</h1>" + why + "</body></html>");
  r.headers.push_back({"X-Plex-Protocol", "1.0"});
  return r;
}

// What the protocol requires of a root document (2.2, 2.3): "" when PMS would accept it.
std::string root_problem(const nlohmann::json& doc) {
  static const std::regex k_id("^tv\\.plex\\.agents\\.custom\\.[A-Za-z0-9.]+$");
  if (!doc.is_object() || !doc.contains("MediaProvider") || !doc.at("MediaProvider").is_object()) {
    return "no MediaProvider";
  }
  const auto& mp = doc.at("MediaProvider");
  const auto id = mp.value("identifier", std::string());
  if (!std::regex_match(id, k_id)) {
    return "invalid identifier";
  }
  if (!mp.contains("title") || !mp.at("title").is_string()) {
    return "no title";
  }
  bool movie = false;
  for (const auto& t : mp.value("Types", nlohmann::json::array())) {
    for (const auto& sc : t.value("Scheme", nlohmann::json::array())) {
      if (sc.value("scheme", "") != id) {
        return "a scheme is not the identifier";
      }
    }
    movie = movie || t.value("type", 0) == 1;
  }
  if (!movie) {
    return "no movie type";
  }
  std::set<std::string> features;
  for (const auto& f : mp.value("Feature", nlohmann::json::array())) {
    if (f.contains("key") && f.at("key").is_string() && f.at("key").get<std::string>().rfind('/', 0) == 0) {
      features.insert(f.value("type", ""));
    }
  }
  return features.count("metadata") != 0U && features.count("match") != 0U ? "" : "metadata or match feature missing";
}

std::string feature_key(const MetadataProvider& p, const std::string& type) {
  for (const auto& f : p.root.value("Feature", nlohmann::json::array())) {
    if (f.value("type", "") == type) {
      return f.value("key", "");
    }
  }
  return {};
}

nlohmann::json id_json(int64_t id, const AgentOptions& options) {
  return options.string_ids ? nlohmann::json(std::to_string(id)) : nlohmann::json(id);
}

nlohmann::json provider_json(const MetadataProvider& p, const AgentOptions& options) {
  return {{"id", id_json(p.id, options)},
          {"identifier", p.identifier},
          {"uri", p.uri},
          {"title", p.title},
          {"online", p.online}};
}

// An id parameter as PMS takes it: digits only (a quoted or empty id is a client's mistake).
std::optional<int64_t> id_param(const std::string& v) {
  if (!util::all_digits(v, 18)) {
    return std::nullopt;
  }
  return std::stoll(v);
}

// The scanner's title and year from a file name, as a real PMS 1.43.0 made them (evidence O7):
// bracketed groups dropped, punctuation flattened to spaces, and no year for a date-named file.
// "Brasil Bimbos 2025-06-02 Eu Quero (Lunna Real) [139733].mkv" -> ("Brasil Bimbos 2025 06 02 Eu Quero Lunna Real", 0).
std::pair<std::string, int> parse_name(const std::string& file) {
  auto name = file.substr(file.find_last_of('/') + 1);
  name = name.substr(0, name.rfind('.'));
  static const std::regex k_brackets("\\[[^\\]]*\\]");
  static const std::regex k_date("(19|20)\\d\\d[-._ ](0[1-9]|1[0-2])[-._ ](0[1-9]|[12]\\d|3[01])");
  static const std::regex k_year("(^|[^0-9])((19|20)\\d\\d)([^0-9]|$)");
  name = std::regex_replace(name, k_brackets, " ");
  std::smatch m;
  const bool dated = std::regex_search(name, k_date);
  const int year = !dated && std::regex_search(name, m, k_year) ? std::stoi(m.str(2)) : 0;
  std::string flat;
  for (const char c : name) {
    const bool punct = std::string_view("-_.,;:!()[]{}").find(c) != std::string_view::npos;
    if (punct || c == ' ') {
      if (!flat.empty() && flat.back() != ' ') {
        flat.push_back(' ');
      }
    } else {
      flat.push_back(c);
    }
  }
  while (!flat.empty() && flat.back() == ' ') {
    flat.pop_back();
  }
  return {flat, year};
}

// What `filename` PMS sends for a file, in the style the options choose.
std::string match_filename(const std::string& file, const std::vector<std::string>& locations,
                           AgentOptions::FilenameStyle style) {
  std::string rel = file;
  std::string root;
  for (const auto& l : locations) {
    if (file.rfind(l + "/", 0) == 0) {
      rel = file.substr(l.size() + 1);
      root = l;
    }
  }
  switch (style) {
  case AgentOptions::FilenameStyle::rel:
    break;
  case AgentOptions::FilenameStyle::rel_leading_slash:
    return "/" + rel;
  case AgentOptions::FilenameStyle::rel_with_root_name:
    return root.substr(root.find_last_of('/') + 1) + "/" + rel;
  case AgentOptions::FilenameStyle::absolute:
    return file;
  }
  return rel;
}

// 1.43.0 or later: "1.43.4.10389-..." -> true, "1.41.6.9685-..." -> false.
bool custom_providers_supported(const std::string& version) {
  const auto parts = util::split(version, '.');
  if (parts.size() < 2 || !util::all_digits(parts[0], 4) || !util::all_digits(parts[1], 4)) {
    return true; // unknown: the current behaviour
  }
  const int major = std::stoi(parts[0]);
  const int minor = std::stoi(parts[1]);
  return major > 1 || (major == 1 && minor >= 43);
}

int64_t now_ms_for_agents() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace

PlexSim::~PlexSim() {
  std::vector<std::thread> jobs;
  {
    const std::lock_guard lock(jobs_mutex_);
    jobs.swap(jobs_);
  }
  for (auto& t : jobs) {
    if (t.joinable()) {
      t.join();
    }
  }
}

void PlexSim::set_agent_options(const AgentOptions& options) {
  const std::lock_guard lock(mutex_);
  agent_options_ = options;
}

std::vector<ProviderCall> PlexSim::provider_calls() {
  const std::lock_guard lock(calls_mutex_);
  return calls_;
}

std::vector<MetadataProvider> PlexSim::providers() {
  const std::lock_guard lock(mutex_);
  std::vector<MetadataProvider> out;
  std::copy_if(providers_.begin(), providers_.end(), std::back_inserter(out),
               [](const MetadataProvider& p) { return !p.builtin; });
  return out;
}

// The built-in providers a PMS 1.43 database holds from its first start (a dump of that table is
// public: Plex Movie, Plex Personal Media, and Plex Local Media, which reads local assets).
std::vector<MetadataProvider> PlexSim::builtin_providers() {
  std::vector<MetadataProvider> out;
  int64_t id = 1;
  for (const auto& [identifier, title] :
       std::vector<std::pair<std::string, std::string>>{{"tv.plex.agents.movie", "Plex Movie"},
                                                        {"tv.plex.agents.none", "Plex Personal Media"},
                                                        {"tv.plex.agents.localmedia", "Plex Local Media"}}) {
    MetadataProvider p;
    p.id = id++;
    p.identifier = identifier;
    p.title = title;
    p.builtin = true;
    out.push_back(std::move(p));
  }
  return out;
}

std::string PlexSim::load_provider(MetadataProvider& p) {
  int status = 0;
  const auto root = call_provider(p, "GET", "?includePreferences=1", "", &status);
  if (status != 200) {
    p.online = false;
    return "the provider did not answer";
  }
  if (auto problem = root_problem(root); !problem.empty()) {
    p.online = false;
    return problem;
  }
  p.root = root.at("MediaProvider");
  p.identifier = p.root.at("identifier");
  p.title = p.root.at("title");
  p.online = true;
  return {};
}

void PlexSim::restart_pms() {
  std::vector<MetadataProvider> custom = providers();
  for (auto& p : custom) {
    (void)load_provider(p); // no lock held while a provider is called
  }
  const std::lock_guard lock(mutex_);
  for (auto& p : providers_) {
    for (const auto& loaded : custom) {
      if (loaded.id == p.id) {
        p = loaded;
      }
    }
  }
}

std::vector<AgentGroup> PlexSim::agent_groups() {
  const std::lock_guard lock(mutex_);
  return groups_;
}

namespace {

// A host only a LAN reaches: loopback, the private ranges, link-local, "localhost" or a bare name.
bool lan_only_host(std::string host) {
  host = util::to_lower(host);
  if (host == "localhost" || host.find_first_of(".:") == std::string::npos) {
    return true;
  }
  for (const char* prefix : {"127.", "10.", "192.168.", "169.254.", "[::1]", "::1", "[fe80", "fe80"}) {
    if (host.rfind(prefix, 0) == 0) {
      return true;
    }
  }
  if (host.rfind("172.", 0) == 0) {
    const auto second = util::split(host, '.');
    if (second.size() > 1 && util::all_digits(second[1], 3)) {
      const int n = std::stoi(second[1]);
      return n >= 16 && n <= 31;
    }
  }
  return false;
}

std::string url_problem(const std::string& url) {
  static const std::regex k_url("^https?://([^/:?#]+|\\[[^\\]]+\\])(:[0-9]+)?([^?#]*)(\\?[^#]*)?");
  static const std::regex k_secret_path("/p/[0-9a-f]{32}(/|$)");
  static const std::regex k_secret_query("[?&](x-plex-token|token|apikey|api_key)=", std::regex::icase);
  std::smatch m;
  if (!std::regex_search(url, m, k_url)) {
    return {}; // PMS's own relative paths (/library/metadata/...) are served with the app's token
  }
  if (lan_only_host(m.str(1))) {
    return url + ": a LAN-only host, which Plex's image proxy cannot reach";
  }
  if (std::regex_search(m.str(3), k_secret_path) || std::regex_search(m.str(4), k_secret_query)) {
    return url + ": carries a secret";
  }
  return {};
}

} // namespace

std::vector<std::string> PlexSim::client_view_problems(const std::string& rating_key) {
  const std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  const auto* item = find_item(rating_key);
  if (item == nullptr) {
    return out;
  }
  const auto check = [&](const std::string& url) {
    if (auto p = url_problem(url); !p.empty()) {
      out.push_back(std::move(p));
    }
  };
  for (const auto& [type, tags] : item->tags) {
    for (const auto& t : tags) {
      check(t.thumb);
    }
  }
  for (const auto* images : {&item->posters, &item->arts}) {
    for (const auto& img : *images) {
      check(img.rating_key); // the alternates' URLs, as the poster picker hands them out
    }
  }
  // The selected poster is not checked: PMS downloads it and serves it from its own path.
  return out;
}

std::optional<Image> PlexSim::selected_image(const std::string& rating_key, bool poster) {
  const std::lock_guard lock(mutex_);
  const auto* item = find_item(rating_key);
  if (item == nullptr) {
    return std::nullopt;
  }
  for (const auto& img : poster ? item->posters : item->arts) {
    if (img.selected) {
      return img;
    }
  }
  return std::nullopt;
}

void PlexSim::edit_as_user(const std::string& rating_key, const std::string& field, const std::string& value) {
  const std::lock_guard lock(mutex_);
  if (auto* item = find_item(rating_key); item != nullptr) {
    item->text[field] = value;
    item->locked.insert(field);
    item->updated_at = next_epoch();
  }
}

void PlexSim::run_agent_job(std::function<void()> job) {
  ++agent_jobs_;
  const std::lock_guard lock(jobs_mutex_);
  jobs_.emplace_back([this, job = std::move(job)] {
    try {
      job();
    } catch (const std::exception&) {
      // A provider's odd answer leaves the item as it was, as PMS does.
    }
    --agent_jobs_;
  });
}

nlohmann::json PlexSim::call_provider(const MetadataProvider& provider, const std::string& method,
                                      const std::string& path, const std::string& body, int* status) {
  int timeout = 90000;
  {
    const std::lock_guard lock(mutex_);
    timeout = agent_options_.provider_timeout_ms;
  }
  const auto full = provider.uri + path;
  ProviderCall call{method, full, body, 0, ""};
  nlohmann::json answer;
  const auto slash = full.find('/', full.find("://") + 3);
  auto base = net::Url::parse(full.substr(0, slash));
  if (base) {
    net::ClientOptions opts;
    opts.base = *base;
    opts.connect_timeout_ms = std::min(timeout, 5000);
    opts.read_timeout_ms = timeout;
    opts.total_timeout_ms = timeout;
    net::Request req{
        method, slash == std::string::npos ? "/" : full.substr(slash), {{"Accept", "application/json"}}, body};
    if (!body.empty()) {
      req.headers.push_back({"Content-Type", "application/json"});
    }
    if (auto res = net::make_http_client(opts)->send(req)) {
      call.status = res->status;
      if (const auto* type = res->header("Content-Type")) {
        call.content_type = *type;
      }
      answer = nlohmann::json::parse(res->body, nullptr, false);
    }
  }
  if (status != nullptr) {
    *status = call.status;
  }
  const std::lock_guard lock(calls_mutex_);
  calls_.push_back(std::move(call));
  return answer;
}

void PlexSim::fetch_image(const std::string& url) {
  // PMS downloads the image itself: a plain GET, no credentials.
  const auto slash = url.find('/', url.find("://") + 3);
  ProviderCall call{"GET", url, "", 0, ""};
  if (auto base = net::Url::parse(url.substr(0, slash)); base && slash != std::string::npos) {
    net::ClientOptions opts;
    opts.base = *base;
    opts.read_timeout_ms = 10000;
    if (auto res = net::make_http_client(opts)->send(net::Request{"GET", url.substr(slash), {}, ""})) {
      call.status = res->status;
      if (const auto* type = res->header("Content-Type")) {
        call.content_type = *type;
      }
    }
  }
  const std::lock_guard lock(calls_mutex_);
  calls_.push_back(std::move(call));
}

std::optional<MetadataProvider> PlexSim::provider_for_section(const std::string& section_key) {
  const std::lock_guard lock(mutex_);
  for (const auto& s : sections_) {
    if (s.key != section_key) {
      continue;
    }
    for (const auto& p : providers_) {
      if (p.identifier == s.agent && !p.builtin && p.online) {
        return p;
      }
    }
  }
  return std::nullopt;
}

std::vector<MetadataProvider> PlexSim::contributors_for_section(const std::string& section_key) {
  const std::lock_guard lock(mutex_);
  std::vector<MetadataProvider> out;
  for (const auto& s : sections_) {
    if (s.key != section_key) {
      continue;
    }
    for (const auto& g : groups_) {
      if (g.id != s.agent_group) {
        continue;
      }
      for (size_t i = 1; i < g.providers.size(); ++i) {
        for (const auto& p : providers_) {
          if (p.id == g.providers[i] && !p.builtin && p.online) {
            out.push_back(p); // Local Media reads files beside the video: not modelled
          }
        }
      }
    }
  }
  return out;
}

void PlexSim::agent_refresh(const std::string& rating_key, bool force_match, const std::string& bind_guid) {
  std::string file;
  std::string section_key;
  std::string guid;
  std::vector<std::string> locations;
  AgentOptions options;
  {
    const std::lock_guard lock(mutex_);
    const auto* item = find_item(rating_key);
    if (item == nullptr || item->parts.empty()) {
      return;
    }
    file = item->parts.front().file;
    section_key = item->section_key;
    guid = bind_guid.empty() ? item->guid : bind_guid;
    options = agent_options_;
    for (const auto& s : sections_) {
      if (s.key == section_key) {
        locations = s.locations;
      }
    }
  }
  const auto provider = provider_for_section(section_key);
  if (!provider) {
    return;
  }
  const bool match_now = bind_guid.empty() && (force_match || guid.empty());
  std::string rating;
  if (match_now) {
    const auto [title, year] = parse_name(file);
    nlohmann::json body = {{"type", 1},
                           {"title", title},
                           {"filename", match_filename(file, locations, options.filename_style)},
                           {"manual", 0}};
    if (year != 0) {
      body["year"] = year;
    }
    int status = 0;
    const auto answer =
        call_provider(*provider, "POST", feature_key(*provider, "match") + "?X-Plex-Country=US&X-Plex-Language=en-US",
                      body.dump(), &status);
    guid.clear();
    if (status == 200 && answer.is_object() && answer.contains("MediaContainer")) {
      const auto results = answer.at("MediaContainer").value("Metadata", nlohmann::json::array());
      if (!results.empty() && results.at(0).is_object()) {
        const auto& first = results.at(0);
        const int score = first.contains("score") && first.at("score").is_number() ? first.at("score").get<int>() : 0;
        if (options.score_threshold == 0 || score >= options.score_threshold) {
          guid = first.value("guid", "");
          rating = first.value("ratingKey", "");
        }
      }
    }
    if (guid.empty()) {
      return; // left unmatched, as PMS leaves it
    }
  }
  if (guid.empty()) {
    return;
  }
  if (rating.empty()) {
    rating = guid.substr(guid.rfind('/') + 1);
  }
  int status = 0;
  const auto meta_key = feature_key(*provider, "metadata");
  const auto answer = call_provider(*provider, "GET", meta_key + "/" + rating, "", &status);
  if (status != 200 || !answer.is_object() || !answer.contains("MediaContainer")) {
    const std::lock_guard lock(mutex_);
    if (auto* item = find_item(rating_key); item != nullptr && match_now) {
      item->guid = guid; // matched; the metadata comes with a later refresh
    }
    return;
  }
  const auto list = answer.at("MediaContainer").value("Metadata", nlohmann::json::array());
  if (list.empty() || !list.at(0).is_object()) {
    return;
  }
  // The agent's other providers, in their order, fill only what the primary did not send; a
  // list (genres, roles, images) comes whole from the first provider that has one (spec 2.10).
  nlohmann::json m = list.at(0);
  for (const auto& other : contributors_for_section(section_key)) {
    int other_status = 0;
    nlohmann::json body = {{"type", 1}, {"title", m.value("title", "")}, {"guid", guid}, {"manual", 0}};
    const auto matched = call_provider(other, "POST", feature_key(other, "match"), body.dump(), &other_status);
    const auto results = other_status == 200 && matched.is_object() && matched.contains("MediaContainer")
                             ? matched.at("MediaContainer").value("Metadata", nlohmann::json::array())
                             : nlohmann::json::array();
    if (results.empty() || !results.at(0).is_object() || !results.at(0).contains("ratingKey")) {
      continue;
    }
    const auto extra = call_provider(
        other, "GET", feature_key(other, "metadata") + "/" + results.at(0).value("ratingKey", ""), "", &other_status);
    const auto more = other_status == 200 && extra.is_object() && extra.contains("MediaContainer")
                          ? extra.at("MediaContainer").value("Metadata", nlohmann::json::array())
                          : nlohmann::json::array();
    if (more.empty() || !more.at(0).is_object()) {
      continue;
    }
    for (const auto& [key, value] : more.at(0).items()) {
      if (key == "guid" || key == "ratingKey" || key == "key" || key == "type") {
        continue; // the primary's identity stays
      }
      if (!m.contains(key) || (m.at(key).is_array() && m.at(key).empty())) {
        m[key] = value;
      }
    }
  }
  std::vector<std::string> images;
  {
    const std::lock_guard lock(mutex_);
    auto* item = find_item(rating_key);
    if (item == nullptr) {
      return;
    }
    item->guid = guid;
    for (const char* field :
         {"title", "summary", "studio", "originallyAvailableAt", "tagline", "contentRating", "titleSort"}) {
      if (item->locked.count(field) != 0U) {
        continue; // PMS keeps a locked field through refreshes
      }
      if (m.contains(field) && m.at(field).is_string()) {
        item->text[field] = m.at(field).get<std::string>();
      } else if (std::string(field) != "title") {
        item->text.erase(field);
      }
    }
    if (item->locked.count("year") == 0U) {
      item->year = m.value("year", int64_t{0});
    }
    for (const auto& [type, element] : std::vector<std::pair<std::string, std::string>>{
             {"genre", "Genre"}, {"actor", "Role"}, {"director", "Director"}}) {
      if (item->locked.count(type) != 0U) {
        continue;
      }
      auto& list_tags = item->tags[type];
      if (!options.keep_stale_tags) {
        list_tags.clear();
      }
      for (const auto& t : m.value(element, nlohmann::json::array())) {
        if (!t.is_object() || !t.contains("tag") || !t.at("tag").is_string()) {
          continue;
        }
        const std::string name = t.at("tag");
        const auto held =
            std::find_if(list_tags.begin(), list_tags.end(), [&](const Tag& x) { return util::iequals(x.tag, name); });
        if (held != list_tags.end()) {
          held->role = t.value("role", "");
          held->thumb = t.value("thumb", "");
        } else {
          list_tags.push_back(Tag{tag_id(type, name), name, t.value("role", ""), t.value("thumb", "")});
        }
        if (t.contains("thumb") && t.at("thumb").is_string()) {
          images.push_back(t.at("thumb"));
        }
        if (type == "genre" && options.genre_first_only) {
          break;
        }
      }
    }
    if (options.list_fields_replace_on_refresh && item->locked.count("collection") == 0U) {
      item->tags["collection"].clear(); // the provider sent none
    }
    if (item->locked.count("thumb") == 0U && m.contains("thumb") && m.at("thumb").is_string()) {
      item->text["providerThumb"] = m.at("thumb");
      images.push_back(m.at("thumb"));
      item->thumb_epoch = next_epoch();
    }
    if (m.contains("art") && m.at("art").is_string()) {
      images.push_back(m.at("art"));
    }
    for (const auto& img : m.value("Image", nlohmann::json::array())) {
      if (img.is_object() && img.contains("url") && img.at("url").is_string()) {
        images.push_back(img.at("url"));
      }
    }
    item->updated_at = next_epoch();
  }
  if (options.probe_images) {
    (void)call_provider(*provider, "GET", meta_key + "/" + rating + "/images", "", nullptr);
  }
  std::sort(images.begin(), images.end());
  images.erase(std::unique(images.begin(), images.end()), images.end());
  for (const auto& url : images) {
    fetch_image(url);
  }
  if (!match_now && options.probe_extras) {
    (void)call_provider(
        *provider, "GET",
        meta_key + "/" + rating + "/extras?updating=1&X-Plex-Container-Size=50&X-Plex-Container-Start=0", "", nullptr);
  }
}

std::optional<net::ServerResponse> PlexSim::agent_route(const net::ServerRequest& req, bool json) {
  const auto query = util::parse_query(req.query);
  const auto param = [&](const std::string& key) -> std::string {
    for (const auto& [k, v] : query) {
      if (k == key) {
        return v;
      }
    }
    return {};
  };
  const auto parts = util::split(req.path, '/');
  const auto& m = req.method;
  {
    const std::lock_guard lock(mutex_);
    if (req.path.rfind("/media/providers", 0) == 0 && !custom_providers_supported(options_.version)) {
      return status_answer(404); // a PMS before 1.43 has no such route
    }
  }
  if (req.path == "/media/providers/metadata" && m == "GET") {
    const std::lock_guard lock(mutex_);
    auto list = nlohmann::json::array();
    for (const auto& p : providers_) {
      list.push_back(provider_json(p, agent_options_));
    }
    return container({{"size", list.size()}, {"MetadataAgentProvider", list}}, json, "MetadataAgentProvider");
  }
  if (req.path == "/media/providers/metadata" && m == "POST") {
    const auto uri = param("uri");
    {
      const std::lock_guard lock(mutex_);
      for (const auto& p : providers_) {
        if (p.uri == uri) {
          return status_answer(409, "already registered");
        }
      }
    }
    MetadataProvider p;
    p.uri = uri;
    if (const auto problem = load_provider(p); !problem.empty()) {
      return status_answer(400, problem);
    }
    const std::lock_guard lock(mutex_);
    for (const auto& other : providers_) {
      if (other.identifier == p.identifier) {
        return status_answer(409, "identifier already registered");
      }
    }
    p.id = next_provider_id_++;
    providers_.push_back(p);
    return container({{"size", 1}, {"MetadataAgentProvider", {provider_json(p, agent_options_)}}}, json,
                     "MetadataAgentProvider");
  }
  if (parts.size() == 5 && parts[1] == "media" && parts[2] == "providers" && parts[3] == "metadata" &&
      parts[4] != "group" && m == "PUT") {
    // A changed URL: PMS loads the provider again from it.
    std::optional<MetadataProvider> found;
    {
      const std::lock_guard lock(mutex_);
      for (const auto& p : providers_) {
        if (std::to_string(p.id) == parts[4] && !p.builtin) {
          found = p;
        }
      }
    }
    if (!found) {
      return status_answer(404);
    }
    found->uri = param("uri").empty() ? found->uri : param("uri");
    (void)load_provider(*found);
    const std::lock_guard lock(mutex_);
    for (auto& p : providers_) {
      if (p.id == found->id) {
        p = *found;
      }
    }
    return net::ServerResponse{};
  }
  if (req.path == "/media/providers/metadata/group") {
    const std::lock_guard lock(mutex_);
    const auto group_json = [&](const AgentGroup& g) {
      auto items = nlohmann::json::array();
      for (const auto id : g.providers) {
        for (const auto& p : providers_) {
          if (p.id == id) {
            items.push_back(provider_json(p, agent_options_));
          }
        }
      }
      return nlohmann::json{{"id", id_json(g.id, agent_options_)},
                            {"title", g.title},
                            {"primaryIdentifier", g.primary},
                            {"MetadataAgentProvider", items}};
    };
    if (m == "POST") {
      const auto primary = param("primaryIdentifier");
      const auto p = std::find_if(providers_.begin(), providers_.end(),
                                  [&](const MetadataProvider& x) { return x.identifier == primary; });
      if (p == providers_.end() || param("title").empty()) {
        return status_answer(400, "unknown primary provider or no title");
      }
      groups_.push_back(AgentGroup{next_provider_id_++, param("title"), primary, {p->id}});
      return container({{"size", 1}, {"MetadataAgentProviderGroup", {group_json(groups_.back())}}}, json,
                       "MetadataAgentProviderGroup");
    }
    if (m == "GET") {
      auto list = nlohmann::json::array();
      for (const auto& g : groups_) {
        list.push_back(group_json(g));
      }
      return container({{"size", list.size()}, {"MetadataAgentProviderGroup", list}}, json,
                       "MetadataAgentProviderGroup");
    }
  }
  // PUT|DELETE /media/providers/metadata/group/{groupId}/items/{providerId}: a contributing
  // provider, after the ones already there (the primary stays first).
  if (parts.size() == 8 && parts[1] == "media" && parts[4] == "group" && parts[6] == "items" &&
      (m == "PUT" || m == "DELETE")) {
    const std::lock_guard lock(mutex_);
    const auto group = std::find_if(groups_.begin(), groups_.end(),
                                    [&](const AgentGroup& g) { return std::to_string(g.id) == parts[5]; });
    const auto prov = std::find_if(providers_.begin(), providers_.end(),
                                   [&](const MetadataProvider& p) { return std::to_string(p.id) == parts[7]; });
    if (group == groups_.end() || prov == providers_.end()) {
      return status_answer(404);
    }
    auto& list = group->providers;
    const auto at = std::find(list.begin(), list.end(), prov->id);
    if (m == "PUT" && at == list.end()) {
      list.push_back(prov->id);
    } else if (m == "DELETE" && at != list.end() && at != list.begin()) {
      list.erase(at);
    }
    return net::ServerResponse{};
  }
  // PUT /library/sections/{id}?agent=...: switch a library's agent (400 without one, as PMS).
  if (parts.size() == 4 && parts[1] == "library" && parts[2] == "sections" && m == "PUT") {
    const std::lock_guard lock(mutex_);
    for (auto& s : sections_) {
      if (s.key == parts[3]) {
        if (param("agent").empty()) {
          return status_answer(400, "agent is required");
        }
        const auto raw = param("metadataAgentProviderGroupId"); // none: a built-in agent
        const auto group = raw.empty() ? std::optional<int64_t>(0) : id_param(raw);
        if (!group) {
          return status_answer(400, "metadataAgentProviderGroupId must be an agent's id");
        }
        s.agent = param("agent");
        s.agent_group = *group;
        return net::ServerResponse{};
      }
    }
    return status_answer(404);
  }
  // A scan of a custom-agent section: the scan as always, then every new or (force=1) every item
  // matched and fetched in the background.
  if (parts.size() == 5 && parts[1] == "library" && parts[2] == "sections" && parts[4] == "refresh" &&
      (m == "GET" || m == "POST") && provider_for_section(parts[3])) {
    net::ServerResponse res;
    int delay = 0;
    {
      const std::lock_guard lock(mutex_);
      surface_scanned_items(now_ms_for_agents());
      res = route(req, json);
      delay = options_.scan_delay_ms;
    }
    const auto& section = parts[3];
    const bool force = param("force") == "1";
    run_agent_job([this, section, force, delay] {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay + 20));
      std::vector<std::string> keys;
      {
        const std::lock_guard lock(mutex_);
        surface_scanned_items(now_ms_for_agents());
        for (const auto& [rk, item] : items_) {
          if (item->section_key == section && !item->pending && (force || item->guid.empty())) {
            keys.push_back(rk);
          }
        }
      }
      for (const auto& rk : keys) {
        agent_refresh(rk, force);
      }
    });
    return res;
  }
  // /library/metadata/{id}/refresh | match (PUT) | matches (GET as Plex Web sends it, evidence O2;
  // PUT as Plex's OpenAPI document lists it) on a custom-agent item.
  if (parts.size() == 5 && parts[1] == "library" && parts[2] == "metadata" &&
      (((parts[4] == "refresh" || parts[4] == "match") && m == "PUT") ||
       (parts[4] == "matches" && (m == "GET" || m == "PUT")))) {
    std::string section;
    std::string guid;
    std::string current_title;
    std::string file;
    std::vector<std::string> locations;
    AgentOptions agent_options;
    {
      const std::lock_guard lock(mutex_);
      const auto* item = find_item(parts[3]);
      if (item == nullptr) {
        return status_answer(404);
      }
      section = item->section_key;
      guid = item->guid;
      const auto t = item->text.find("title");
      current_title = t == item->text.end() ? "" : t->second;
      file = item->parts.empty() ? "" : item->parts.front().file;
      for (const auto& s : sections_) {
        if (s.key == section) {
          locations = s.locations;
        }
      }
      agent_options = agent_options_;
    }
    const auto provider = provider_for_section(section);
    if (!provider) {
      return std::nullopt; // a legacy agent: nothing modelled beyond the answer
    }
    const auto& rk = parts[3];
    if (parts[4] == "refresh") {
      const auto& options = agent_options;
      const bool rematch = options.rematch_on_refresh == AgentOptions::Rematch::always ||
                           (options.rematch_on_refresh == AgentOptions::Rematch::unmatched_only && guid.empty());
      if (options.rematch_on_refresh == AgentOptions::Rematch::never && guid.empty()) {
        return net::ServerResponse{}; // nothing to fetch for an unmatched item
      }
      run_agent_job([this, rk, rematch] { agent_refresh(rk, rematch); });
      return net::ServerResponse{};
    }
    if (parts[4] == "match") {
      const auto bind = param("guid");
      if (bind.empty()) {
        return status_answer(400, "guid is required");
      }
      run_agent_job([this, rk, bind] { agent_refresh(rk, false, bind); });
      return net::ServerResponse{};
    }
    // Fix Match (evidence O2, O3): PMS POSTs the provider's match feature with manual=1, the title
    // typed in the dialog or else the item's current one, and the file's name, no query string.
    nlohmann::json body = {
        {"type", 1}, {"title", param("title").empty() ? current_title : param("title")}, {"manual", 1}};
    if (!file.empty()) {
      body["filename"] = match_filename(file, locations, agent_options.filename_style);
    }
    if (!param("year").empty() && util::all_digits(param("year"), 4)) {
      body["year"] = std::stoi(param("year"));
    }
    int status = 0;
    const auto answer = call_provider(*provider, "POST", feature_key(*provider, "match"), body.dump(), &status);
    auto results = nlohmann::json::array();
    if (status == 200 && answer.is_object() && answer.contains("MediaContainer")) {
      for (const auto& r : answer.at("MediaContainer").value("Metadata", nlohmann::json::array())) {
        results.push_back({{"guid", r.value("guid", "")},
                           {"name", r.value("title", "")},
                           {"score", r.value("score", 0)},
                           {"year", r.value("year", 0)}});
      }
    }
    return container({{"size", results.size()}, {"SearchResult", results}}, json, "SearchResult");
  }
  return std::nullopt;
}

} // namespace plexsim
