#include "provider/service.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/asio/ip/host_name.hpp>
#include <nlohmann/json.hpp>

#include "match/fold.hpp"
#include "provider/catalog.hpp"
#include "provider/identity.hpp"
#include "provider/render.hpp"
#include "queue/queue.hpp"
#include "store/heal.hpp"
#include "util/clock.hpp"
#include "util/digest.hpp"
#include "util/file.hpp"
#include "util/log.hpp"
#include "util/path.hpp"
#include "util/strings.hpp"

namespace provider {
namespace {

constexpr size_t k_body_limit = size_t{64} * 1024U;
// provider_record_requests: what a bug report needs, never a disk's worth.
constexpr size_t k_record_body_bytes = size_t{4} * 1024U;
constexpr int k_record_lines_per_second = 20;
constexpr uintmax_t k_record_file_bytes = uintmax_t{8} * 1024U * 1024U;
constexpr size_t k_header_limit = size_t{8} * 1024U;
constexpr int k_receive_ms = 10'000;
constexpr int k_title_candidates = 10;
constexpr int64_t k_follow_up_ms = 30'000; // after a match, when the worker looks for PMS's new item

// Process-wide counters for /metrics.
struct Counters {
  std::mutex mutex;
  std::map<std::string, int64_t> requests; // route|code
  std::map<std::string, int64_t> matches;  // result
  std::map<std::string, int64_t> rejected; // reason
  int64_t cache_hits = 0;
  int64_t cache_misses = 0;
  int64_t cache_bytes = 0;
  std::map<std::string, int64_t> refreshes; // result
  int64_t binds = 0;
  std::map<std::string, int64_t> repairs; // field
  struct Histogram {
    std::vector<int64_t> buckets; // cumulative counts are computed when rendered
    double sum = 0;
    int64_t count = 0;
  };
  std::map<std::string, Histogram> seconds; // route
  // Health.
  bool enabled = false;
  bool listening = false;
  int64_t stash_failing_since_ms = 0; // 0: answering
};
constexpr std::array<double, 10> k_buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
constexpr int64_t k_stash_unhealthy_ms = 10LL * 60 * 1000;
Counters& counters() {
  static Counters c;
  return c;
}
void count(std::map<std::string, int64_t> Counters::*which, const std::string& key) {
  auto& c = counters();
  const std::lock_guard lock(c.mutex);
  ++(c.*which)[key];
}

int64_t now_ms() {
  return util::SystemClock().now_ms();
}

net::ServerResponse json_answer(int status, const nlohmann::json& body) {
  net::ServerResponse r;
  r.status = status;
  r.headers.push_back(net::Header{"Content-Type", "application/json; charset=utf-8"});
  r.headers.push_back(net::Header{"Cache-Control", "no-store"});
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

net::ServerResponse status_only(int status) {
  net::ServerResponse r;
  r.status = status;
  r.headers.push_back(net::Header{"Cache-Control", "no-store"});
  return r;
}

bool hex_token(const std::string& s) {
  return s.size() == 32 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::string hex_of(const std::string& bytes) {
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char c : bytes) {
    out += k_hex[c >> 4U];
    out += k_hex[c & 0xFU];
  }
  return out;
}

std::string secrets_text(const Secrets& s) {
  return nlohmann::json{{"token", s.token}, {"hmac_key", hex_of(s.hmac_key)}}.dump() + "\n";
}

util::Result<void> write_secrets(const std::string& data_dir, const Secrets& s) {
  const auto file = data_dir + "/" + k_secrets_file;
  const auto tmp = file + ".tmp";
  std::error_code ec;
  std::filesystem::remove(util::fs_path(tmp), ec);
  return util::write_file_durably(tmp, file, secrets_text(s));
}

std::string unhex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) {
    out += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
  }
  return out;
}

// Fix Match's direct forms: "stash 1234", "scene-1234", a Stash scene URL; nullopt otherwise.
std::optional<std::string> direct_scene_id(const std::string& text) {
  const auto t = util::to_lower(util::trim(text));
  const auto digits_after = [&](size_t pos) -> std::optional<std::string> {
    size_t end = pos;
    while (end < t.size() && t[end] >= '0' && t[end] <= '9') {
      ++end;
    }
    if (end == pos || end - pos > 18) {
      return std::nullopt;
    }
    return t.substr(pos, end - pos);
  };
  for (const std::string prefix : {"stash ", "stash:", "scene-", "scene "}) {
    if (t.rfind(prefix, 0) == 0) {
      if (auto id = digits_after(prefix.size()); id && id->size() == t.size() - prefix.size()) {
        return id;
      }
    }
  }
  if (const auto at = t.find("/scenes/"); at != std::string::npos && t.rfind("http", 0) == 0) {
    return digits_after(at + 8);
  }
  return std::nullopt;
}

bool uuid_like(const std::string& s) {
  return s.size() == 36 && s.find_first_not_of("0123456789abcdef-") == std::string::npos;
}

} // namespace

namespace {

bool synced_before(store::Db& db, const std::string& scene_id) {
  auto stmt = db.prepare("SELECT 1 FROM sync_records WHERE scene_id = ?1");
  return stmt && stmt->bind(1, scene_id).step().value_or(false);
}

// PMS asked for a file name several Stash scenes fit (the same relative path under two Stash
// folders), or one scene's file only by the end of its path: nothing is guessed. Each scene goes
// on the review list and gets a job, whose scored match by the item's full path binds the right
// one (spec 5.5) and clears the entry.
void follow_up_uncertain(store::Db& db, const std::vector<std::string>& scenes, const std::string& filename) {
  const auto now = now_ms();
  const auto why =
      "Plex's metadata scan asked for the file name '" + util::log::display_path(filename) + "', which " +
      (scenes.size() == 1 ? std::string("matches this scene only by the end of its path (no library folder and "
                                        "path_map give its full path)")
                          : "fits " + std::to_string(scenes.size()) + " Stash scenes") +
      "; PlexSync binds an item to a scene by its full path only";
  queue::Queue q(db);
  auto note = db.prepare(R"sql(
INSERT INTO match_reviews(scene_id, reason, candidates, first_ms, last_ms) VALUES(?1, ?2, '[]', ?3, ?3)
ON CONFLICT(scene_id) DO UPDATE SET reason = excluded.reason, last_ms = excluded.last_ms)sql");
  for (const auto& scene : scenes) {
    if (note) {
      (void)note->bind(1, scene).bind(2, why).bind(3, now).run();
      note->reset();
    }
    (void)q.enqueue_later(scene, "provider_ambiguous", now, now + k_follow_up_ms);
  }
}

std::optional<Secrets> read_secrets(const std::string& file, bool& damaged) {
  std::ifstream in(util::fs_path(file), std::ios::binary);
  damaged = false;
  if (!in) {
    return std::nullopt;
  }
  const auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_object() && j.contains("token") && j.at("token").is_string() && hex_token(j.at("token")) &&
      j.contains("hmac_key") && j.at("hmac_key").is_string() && j.at("hmac_key").get<std::string>().size() == 64) {
    return Secrets{j.at("token").get<std::string>(), unhex(j.at("hmac_key").get<std::string>())};
  }
  damaged = true;
  return std::nullopt;
}

} // namespace

util::Result<Secrets> load_or_create_secrets(const std::string& data_dir) {
  const auto file = data_dir + "/" + k_secrets_file;
  bool damaged = false;
  if (auto s = read_secrets(file, damaged)) {
    util::log::add_secret(s->token);
    return *s;
  }
  const auto token = util::random_bytes(16);
  const auto key = util::random_bytes(32);
  if (token.size() != 16 || key.size() != 32) {
    return util::fail("the system's random generator failed; the metadata provider cannot make its secrets");
  }
  Secrets s{hex_of(token), key};
  if (damaged) {
    LOG_WARN(file << " is damaged; the provider gets a new secret path (register its URL in Plex again)");
    TRY(write_secrets(data_dir, s));
  } else {
    // First use: the worker and `provider url` may both get here at once. The new file is linked
    // into place only if none exists yet, so both end up with the same secrets.
    const auto mine = file + ".new-" + hex_of(util::random_bytes(4));
    TRY(util::write_file_durably(mine + ".tmp", mine, secrets_text(s)));
    std::error_code ec;
    std::filesystem::create_hard_link(util::fs_path(mine), util::fs_path(file), ec);
    std::filesystem::remove(util::fs_path(mine), ec);
    bool unused = false;
    auto on_disk = read_secrets(file, unused);
    if (!on_disk) {
      return util::fail("cannot create " + file + ": check that the data directory is writable");
    }
    s = *on_disk;
  }
  util::log::add_secret(s.token);
  return s;
}

util::Result<Secrets> rotate_token(const std::string& data_dir) {
  TRY_ASSIGN(auto s, load_or_create_secrets(data_dir));
  const auto token = util::random_bytes(16);
  if (token.size() != 16) {
    return util::fail("the system's random generator failed; the token was not changed");
  }
  s.token = hex_of(token);
  TRY(write_secrets(data_dir, s));
  util::log::add_secret(s.token);
  return s;
}

std::vector<std::string> base_urls(const config::Settings& s, uint16_t bound_port) {
  std::vector<std::string> out;
  if (!s.provider_public_url.empty()) {
    out.push_back(s.provider_public_url);
  }
  const auto listen = config::parse_listen(s.provider_listen).value_or(config::Listen{"127.0.0.1", 9787});
  const auto port = std::to_string(bound_port != 0 ? bound_port : listen.port);
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

std::string root_url(const std::string& base, const Secrets& secrets, bool with_token) {
  std::string b = base;
  while (!b.empty() && b.back() == '/') {
    b.pop_back();
  }
  return b + (with_token ? "/p/" + secrets.token : std::string()) + "/movie";
}

namespace {

// One metric family in Prometheus' text format: a plain value, or one sample per label value.
void family_head(std::ostringstream& out, const char* name, const char* type, const char* help) {
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
}
void single(std::ostringstream& out, const char* name, const char* type, const char* help, int64_t value) {
  family_head(out, name, type, help);
  out << name << " " << value << "\n";
}
void labelled(std::ostringstream& out, const char* name, const char* help, const char* label,
              const std::map<std::string, int64_t>& values) {
  family_head(out, name, "counter", help);
  for (const auto& [key, n] : values) {
    out << name << "{" << label << "=\"" << key << "\"} " << n << "\n";
  }
}

} // namespace

std::string metrics_text() {
  auto& c = counters();
  const std::lock_guard lock(c.mutex);
  std::ostringstream out;
  family_head(out, "plexsync_provider_requests_total", "counter",
              "Requests the metadata provider answered, by route and status");
  for (const auto& [key, n] : c.requests) {
    const auto bar = key.find('|');
    out << "plexsync_provider_requests_total{route=\"" << key.substr(0, bar) << "\",code=\"" << key.substr(bar + 1)
        << "\"} " << n << "\n";
  }
  labelled(out, "plexsync_provider_matches_total", "Match requests, by how they were decided", "result", c.matches);
  labelled(out, "plexsync_provider_rejected_total", "Requests refused by the provider's protections", "reason",
           c.rejected);
  family_head(out, "plexsync_provider_request_seconds", "histogram", "Time to answer Plex, by route");
  for (const auto& [route, h] : c.seconds) {
    int64_t cumulative = 0;
    for (size_t i = 0; i < k_buckets.size(); ++i) {
      cumulative += h.buckets.at(i);
      out << "plexsync_provider_request_seconds_bucket{route=\"" << route << "\",le=\"" << k_buckets.at(i) << "\"} "
          << cumulative << "\n";
    }
    out << "plexsync_provider_request_seconds_bucket{route=\"" << route << "\",le=\"+Inf\"} " << h.count << "\n"
        << "plexsync_provider_request_seconds_sum{route=\"" << route << "\"} " << h.sum << "\n"
        << "plexsync_provider_request_seconds_count{route=\"" << route << "\"} " << h.count << "\n";
  }
  labelled(out, "plexsync_plex_refreshes_total", "Items in pull libraries PlexSync asked Plex to refresh, by result",
           "result", c.refreshes);
  single(out, "plexsync_plex_binds_total", "counter", "Items Plex left unmatched that PlexSync bound to their scene",
         c.binds);
  labelled(out, "plexsync_provider_repairs_total",
           "Fields Plex stored wrongly from the provider that PlexSync wrote itself", "field", c.repairs);
  single(out, "plexsync_provider_image_cache_bytes", "gauge", "Bytes in the provider's image cache", c.cache_bytes);
  single(out, "plexsync_provider_image_cache_hits_total", "counter", "Images served from the disk cache", c.cache_hits);
  single(out, "plexsync_provider_image_cache_misses_total", "counter", "Images fetched from Stash", c.cache_misses);
  return out.str();
}

void count_refresh(const std::string& result) {
  count(&Counters::refreshes, result);
}

void count_bind() {
  auto& c = counters();
  const std::lock_guard lock(c.mutex);
  ++c.binds;
}

void count_repair(const std::string& field) {
  count(&Counters::repairs, field);
}

void note_listening(bool listening) {
  auto& c = counters();
  const std::lock_guard lock(c.mutex);
  c.enabled = true;
  c.listening = listening;
}

void note_stash(bool answered, int64_t now) {
  auto& c = counters();
  const std::lock_guard lock(c.mutex);
  if (answered) {
    c.stash_failing_since_ms = 0;
  } else if (c.stash_failing_since_ms == 0) {
    c.stash_failing_since_ms = now;
  }
}

std::string health_problem(int64_t now) {
  auto& c = counters();
  const std::lock_guard lock(c.mutex);
  if (!c.enabled) {
    return "";
  }
  if (!c.listening) {
    return "the metadata provider is enabled but not listening (see plexsync.log for the address to fix)";
  }
  if (c.stash_failing_since_ms != 0 && now - c.stash_failing_since_ms > k_stash_unhealthy_ms) {
    return "the metadata provider has not reached Stash for " +
           std::to_string((now - c.stash_failing_since_ms) / 60000) +
           " minutes; Plex gets stored answers only (check stash_url and that Stash runs)";
  }
  return "";
}

struct Provider::Lease {
  Provider* owner;
  std::unique_ptr<store::Db> db;
  int64_t generation; // store::heal_generation() when the connection was opened
  Lease(Provider* o, std::unique_ptr<store::Db> d, int64_t g) : owner(o), db(std::move(d)), generation(g) {}
  Lease(Lease&&) = default;
  Lease& operator=(Lease&&) = delete;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease() {
    const std::lock_guard lock(owner->pool_mutex_);
    if (db && generation == owner->pool_generation_) {
      owner->pool_.push_back(std::move(db));
    }
  }
};

Provider::Provider(std::string data_dir, Secrets secrets, Backend& backend)
    : data_dir_(std::move(data_dir)), secrets_(std::move(secrets)), backend_(backend), signer_(secrets_.hmac_key) {}

Provider::Lease Provider::db() {
  const auto generation = store::heal_generation();
  {
    const std::lock_guard lock(pool_mutex_);
    if (generation != pool_generation_) {
      pool_.clear(); // the worker healed the database: these still read the moved-aside file
      pool_generation_ = generation;
    }
    if (!pool_.empty()) {
      auto d = std::move(pool_.back());
      pool_.pop_back();
      return {this, std::move(d), generation};
    }
  }
  auto opened = store::Db::open(data_dir_, 2000);
  if (!opened) {
    throw std::runtime_error(opened.error().message);
  }
  return {this, std::make_unique<store::Db>(std::move(*opened)), generation};
}

util::Result<std::optional<stash::Scene>> Provider::scene(store::Db& db, const std::string& id) {
  TRY_ASSIGN(auto snap, load_snapshot(db, id));
  if (snap) {
    return std::optional<stash::Scene>(std::move(snap->scene));
  }
  // Not stored yet (a scene added after the catalog was built and before its job ran).
  TRY_ASSIGN(auto fetched, backend_.fetch_scene(id));
  if (fetched) {
    const auto settings = backend_.settings();
    auto map = match::PathMap::parse(settings.path_map);
    if (map) {
      (void)store_scene(db, *fetched, *map, now_ms());
    }
  }
  return fetched;
}

net::ServerResponse Provider::handle(const net::ServerRequest& request) {
  const auto started = std::chrono::steady_clock::now();
  if (!rate_.admit(request.peer, now_ms())) {
    count(&Counters::rejected, "rate");
    auto busy = status_only(429);
    busy.headers.push_back(net::Header{"Retry-After", "1"});
    return busy;
  }
  const auto settings = backend_.settings();
  const auto id = identifier(settings.provider_identifier_suffix).value_or(k_base_identifier);
  net::ServerResponse response;
  std::string route_name = "other";
  std::string rest;
  // Images live outside the secret path (issue #26): their URLs travel beyond PMS (actor photos
  // and poster alternates go to Plex clients and Plex's image proxy), so each carries only its own
  // signature and the /img/ route serves nothing but the image it names.
  const bool public_image = request.path.rfind("/img/", 0) == 0;
  if (!public_image && !settings.provider_skip_token) {
    // Constant-time check of the secret segment.
    const std::string want = "/p/" + secrets_.token;
    const auto got = request.path.substr(0, want.size());
    const bool ok = util::constant_time_equal(got, want) &&
                    (request.path.size() == want.size() || request.path[want.size()] == '/');
    if (!ok) {
      count(&Counters::rejected, "token");
      return status_only(404); // never recorded: anyone can send these, as fast as they like
    }
    rest = request.path.substr(want.size());
  } else {
    rest = request.path;
  }
  std::string base;
  if (settings.provider_public_url.empty()) {
    auto lease = db();
    const auto registered = lease.db->get_kv(k_registered_base_kv);
    base = registered && *registered ? **registered : base_urls(settings, bound_port_.load()).front();
  } else {
    base = settings.provider_public_url;
  }
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  const auto& base_url = base; // image URLs hang below it, outside the secret
  try {
    // While the catalog is built for the first time only match and metadata wait (503): PMS loads
    // a provider's root when it starts or registers it and counts one that fails as offline until
    // its next load (evidence O1), so the root answers at all times, like the images.
    const bool waits_for_catalog = rest.rfind("/movie/", 0) == 0 && rest != "/movie/";
    if (!backend_.ready() && waits_for_catalog) {
      response = status_only(503);
      response.headers.push_back(net::Header{"Retry-After", "5"});
    } else {
      response = route(request, rest, settings, id, base_url);
    }
  } catch (const std::exception& e) {
    LOG_WARN("metadata provider: " << request.method << " failed: " << e.what());
    response = json_answer(500, {{"error", "internal error; see plexsync.log"}});
  }
  if (rest == "/movie") {
    route_name = "root";
  } else if (rest == "/movie/library/metadata/matches") {
    route_name = "match";
  } else if (rest.rfind("/movie/library/metadata/", 0) == 0) {
    route_name = rest.find('/', 24) == std::string::npos ? "metadata" : rest.substr(rest.rfind('/') + 1);
    if (route_name != "metadata" && route_name != "images" && route_name != "extras") {
      route_name = "other";
    }
  } else if (rest.rfind("/img/", 0) == 0) {
    route_name = "image";
  }
  count(&Counters::requests, route_name + "|" + std::to_string(response.status));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    auto& c = counters();
    const std::lock_guard lock(c.mutex);
    auto& h = c.seconds[route_name];
    h.buckets.resize(k_buckets.size());
    for (size_t i = 0; i < k_buckets.size(); ++i) {
      if (seconds <= k_buckets.at(i)) {
        ++h.buckets.at(i);
        break;
      }
    }
    h.sum += seconds;
    ++h.count;
  }
  if (settings.debug_logging) {
    LOG_INFO("provider: " << request.method << " " << route_name << " -> " << response.status << " in " << ms.count()
                          << " ms");
  }
  if (settings.provider_record_requests) {
    record(request, response);
  }
  return response;
}

net::ServerResponse Provider::route(const net::ServerRequest& request, const std::string& rest,
                                    const config::Settings& s, const std::string& identifier,
                                    const std::string& base_url) {
  if (rest == "/movie" || rest == "/movie/") {
    if (request.method != "GET" && request.method != "HEAD") {
      return status_only(405);
    }
    return json_answer(200, root_document(identifier, s.provider_title));
  }
  if (rest == "/movie/library/metadata/matches") {
    if (request.method != "POST") {
      return status_only(405);
    }
    const auto body =
        request.body.empty() ? nlohmann::json::object() : nlohmann::json::parse(request.body, nullptr, false);
    if (!body.is_object()) {
      return json_answer(400, {{"error", "the match body must be a JSON object"}});
    }
    return json_answer(200, match(body, base_url));
  }
  constexpr std::string_view meta = "/movie/library/metadata/";
  if (rest.rfind(meta, 0) == 0) {
    if (request.method != "GET" && request.method != "HEAD") {
      return status_only(405);
    }
    const auto tail = rest.substr(meta.size());
    const auto slash = tail.find('/');
    return metadata(tail.substr(0, slash), slash == std::string::npos ? "" : tail.substr(slash + 1), s, identifier,
                    base_url);
  }
  if (rest.rfind("/img/", 0) == 0) {
    if (request.method != "GET" && request.method != "HEAD") {
      return status_only(405);
    }
    return image(request, rest.substr(5), s);
  }
  return status_only(404);
}

nlohmann::json Provider::match(const nlohmann::json& body, const std::string& base_url, FollowUp follow_up) {
  const auto settings = backend_.settings();
  const auto id = identifier(settings.provider_identifier_suffix).value_or(k_base_identifier);
  const RenderContext ctx{id, base_url, &signer_, &settings};
  auto results = nlohmann::json::array();
  const auto int_field = [&](const char* key) -> int64_t {
    if (!body.contains(key)) {
      return 0;
    }
    const auto& v = body.at(key);
    if (v.is_number_integer()) {
      return v.get<int64_t>();
    }
    if (v.is_string() && !v.get<std::string>().empty() &&
        v.get<std::string>().find_first_not_of("0123456789") == std::string::npos && v.get<std::string>().size() < 10) {
      return std::stoll(v.get<std::string>());
    }
    return 0;
  };
  const auto str_field = [&](const char* key) {
    return body.contains(key) && body.at(key).is_string() ? body.at(key).get<std::string>() : std::string();
  };
  if (int_field("type") != 1) {
    count(&Counters::matches, "none");
    return container(id, "Metadata", std::move(results));
  }
  const bool manual = int_field("manual") == 1;
  auto lease = db();
  auto& db = *lease.db;
  std::vector<std::string> chosen;    // scene ids, best first
  std::vector<std::string> ambiguous; // the scenes a file name fits equally well
  std::string how = "none";
  const auto add = [&](const std::string& scene_id) {
    if (std::find(chosen.begin(), chosen.end(), scene_id) == chosen.end()) {
      chosen.push_back(scene_id);
    }
  };
  const auto hint = str_field("guid");
  if (auto sid = scene_of_guid(id, hint); sid && load_snapshot(db, *sid).value_or(std::nullopt)) {
    add(*sid);
    how = "guid";
  }
  if (chosen.empty()) {
    std::vector<std::string> locations;
    if (auto stored = db.get_kv(k_plex_locations_kv); stored && *stored) {
      const auto j = nlohmann::json::parse(**stored, nullptr, false);
      if (j.is_array()) {
        for (const auto& l : j) {
          if (l.is_string()) {
            locations.push_back(l.get<std::string>());
          }
        }
      }
    }
    if (const auto filename = str_field("filename"); !filename.empty()) {
      auto found = match_file(db, filename, locations);
      if (found && found->kind != FileMatch::Kind::none) {
        how = to_string(found->kind);
        if (found->kind == FileMatch::Kind::ambiguous) {
          LOG_WARN("provider: the file Plex asked about fits " << found->scenes.size()
                                                               << " Stash scenes equally well; not matched "
                                                                  "automatically (plexsync provider match shows them)");
          ambiguous = found->scenes;
          if (manual) {
            for (const auto& s : found->scenes) {
              add(s);
            }
          }
        } else {
          add(found->scenes.front());
        }
      }
    }
  }
  // A stash-box id as the hint (stashdb://<uuid>, ...): the scene carrying it.
  if (chosen.empty() && hint.find("://") != std::string::npos) {
    const auto uuid = util::to_lower(hint.substr(hint.find("://") + 3));
    if (uuid_like(uuid)) {
      if (auto stmt = db.prepare("SELECT scene_id FROM scene_snapshots WHERE scene LIKE ?1 LIMIT 2")) {
        stmt->bind(1, "%\"stash_id\":\"" + uuid + "\"%");
        if (auto row = stmt->step(); row && *row) {
          add(stmt->text_at(0));
          how = "stashid";
        }
      }
    }
  }
  // Only an exact path (a library folder + the name, after path_map), a bound guid, a stash-box id
  // or a scene id is certain. A file matched by the end of its path alone (its base name, or a
  // suffix while the library folders are unknown) is uncertain (issue #31: it bound items to
  // unrelated scenes whose file merely had the same name in another folder).
  const bool certain = !chosen.empty() && how != "ambiguous" && how != "suffix";
  if (manual) {
    // Fix Match: direct forms first, then Stash's own title search.
    const auto title = str_field("title");
    if (auto direct = direct_scene_id(title)) {
      add(*direct);
    } else if (uuid_like(util::to_lower(util::trim(title)))) {
      if (auto stmt = db.prepare("SELECT scene_id FROM scene_snapshots WHERE scene LIKE ?1 LIMIT 5")) {
        stmt->bind(1, "%\"stash_id\":\"" + util::to_lower(util::trim(title)) + "\"%");
        while (true) {
          auto row = stmt->step();
          if (!row || !*row) {
            break;
          }
          add(stmt->text_at(0));
        }
      }
    } else if (!util::trim(title).empty()) {
      if (auto found = backend_.search_scenes(title, k_title_candidates)) {
        for (const auto& s : *found) {
          (void)store_scene(db, s, match::PathMap::parse(settings.path_map).value_or(match::PathMap{}), now_ms());
          add(s.id);
        }
      } else {
        LOG_WARN("provider: Fix Match could not search Stash: " << found.error().message);
      }
      how = chosen.empty() ? how : (certain ? how : "title");
    }
  } else if (how == "ambiguous" || how == "suffix") {
    if (follow_up == FollowUp::queue) {
      follow_up_uncertain(db, how == "suffix" ? chosen : ambiguous, str_field("filename"));
    }
    chosen.clear();
  } else if (certain && follow_up == FollowUp::queue && !synced_before(db, chosen.front())) {
    // PMS matched a file of a scene PlexSync has not synced yet: in ~30 s the worker finds the
    // new item and writes what providers cannot carry (collections, the rating); a job already
    // queued keeps its own time. A re-match during a refresh (PMS may match again) needs none.
    queue::Queue q(db);
    if (auto queued = q.enqueue_later(chosen.front(), "provider_match", now_ms(), now_ms() + k_follow_up_ms); !queued) {
      LOG_DEBUG("provider: follow-up job not queued: " << queued.error().message);
    }
  }
  count(&Counters::matches, chosen.empty() && how != "ambiguous" ? "none" : how);
  int score = certain ? 100 : 90; // an uncertain candidate never scores 100
  for (size_t i = 0; i < chosen.size() && static_cast<int>(i) < k_title_candidates + 5; ++i) {
    auto s = scene(db, chosen[i]);
    if (!s || !*s) {
      continue;
    }
    auto m = metadata_object(**s, ctx);
    m["score"] = (i == 0 && certain) ? 100 : std::max(1, score - static_cast<int>(i) * 5);
    score = certain ? 95 : 90;
    results.push_back(std::move(m));
  }
  return container(id, "Metadata", std::move(results));
}

net::ServerResponse Provider::metadata(const std::string& rating_key, const std::string& sub, const config::Settings& s,
                                       const std::string& identifier, const std::string& base_url) {
  const auto scene_id = scene_of_rating_key(rating_key);
  if (!scene_id) {
    return status_only(404);
  }
  if (sub == "children" || sub == "grandchildren") {
    return status_only(404); // a movie provider
  }
  if (sub == "extras") {
    return json_answer(200, container(identifier, "Metadata", nlohmann::json::array()));
  }
  if (!sub.empty() && sub != "images") {
    return status_only(404);
  }
  auto lease = db();
  auto found = scene(*lease.db, *scene_id);
  if (!found) {
    LOG_WARN("provider: scene " << *scene_id << " is not stored and Stash did not answer: " << found.error().message);
    return json_answer(502, {{"error", "Stash is unreachable and this scene is not stored yet"}});
  }
  bool aliased = false;
  if (!*found) {
    // A key whose scene is gone: the scene that owns its file now answers under the old key, so
    // PMS sees no gap; the worker binds the item to the new scene on its next job (spec 4.2).
    auto owner = alias_scene(*lease.db, rating_key);
    if (owner && *owner) {
      found = scene(*lease.db, **owner);
      aliased = found && *found;
    }
    if (!aliased) {
      return status_only(404);
    }
    LOG_INFO("provider: " << rating_key << " is gone from Stash; answered with scene " << (*found)->id
                          << ", which now has its file");
    count(&Counters::matches, "alias");
  }
  const RenderContext ctx{identifier, base_url, &signer_, &s};
  if (sub == "images") {
    return json_answer(200, container(identifier, "Image", image_list(**found, ctx)));
  }
  auto m = metadata_object(**found, ctx);
  if (aliased) {
    m["ratingKey"] = provider::rating_key(*scene_id);
    m["key"] = item_key(*scene_id);
    m["guid"] = guid(identifier, *scene_id);
  } else if (auto noted = note_served(*lease.db, rating_key, **found, now_ms()); !noted) {
    LOG_DEBUG("provider: could not note what PMS read: " << noted.error().message);
  }
  return json_answer(200, container(identifier, "Metadata", nlohmann::json::array({std::move(m)})));
}

net::ServerResponse Provider::image(const net::ServerRequest& request, const std::string& rest,
                                    const config::Settings& s) {
  const auto parsed = parse_image_path(rest);
  if (!parsed) {
    return status_only(404);
  }
  if (!signer_.verify(parsed->ref, parsed->signature)) {
    count(&Counters::rejected, "signature");
    return status_only(403);
  }
  const auto answer = [&](const ImageCache::Entry& e) {
    net::ServerResponse r;
    r.headers.push_back(net::Header{"Cache-Control", "public, max-age=31536000, immutable"});
    r.headers.push_back(net::Header{"ETag", "\"" + parsed->signature + "\""});
    const auto* match = request.header("If-None-Match");
    if (match != nullptr && match->find(parsed->signature) != std::string::npos) {
      r.status = 304;
      return r;
    }
    r.headers.push_back(net::Header{"Content-Type", e.content_type});
    if (request.method == "HEAD") {
      r.headers.push_back(net::Header{"Content-Length", std::to_string(e.bytes.size())});
    } else {
      r.body = e.bytes;
    }
    return r;
  };
  const int64_t cap = s.provider_image_cache_mb < 0 ? 0 : int64_t{s.provider_image_cache_mb} * 1024 * 1024;
  ImageCache cache(data_dir_ + "/cache/img", cap);
  auto lease = db();
  if (parsed->ref.kind == "scene" && backend_.ready()) {
    // A scene deleted in Stash (its Destroy job forgot it): gone, not a Stash failure (issue #31
    // answered 502).
    if (const auto held = has_snapshot(*lease.db, parsed->ref.id); held && !*held) {
      return status_only(404);
    }
  }
  if (auto hit = cache.get(*lease.db, parsed->ref, now_ms())) {
    std::lock_guard lock(counters().mutex);
    ++counters().cache_hits;
    return answer(*hit);
  }
  // One fetch per image at a time: PMS asking twice during a scan costs Stash one request.
  std::shared_ptr<std::mutex> flight;
  {
    const std::lock_guard lock(flight_mutex_);
    auto& f = flights_[parsed->ref.key()];
    if (!f) {
      f = std::make_shared<std::mutex>();
    }
    flight = f;
  }
  const std::lock_guard in_flight(*flight);
  if (auto hit = cache.get(*lease.db, parsed->ref, now_ms())) {
    return answer(*hit);
  }
  {
    std::lock_guard lock(counters().mutex);
    ++counters().cache_misses;
  }
  auto fetched = backend_.fetch_image(stash_target(parsed->ref));
  {
    const std::lock_guard lock(flight_mutex_);
    if (flight.use_count() <= 2) {
      flights_.erase(parsed->ref.key());
    }
  }
  if (!fetched) {
    LOG_WARN("provider: an image could not be fetched from Stash: " << fetched.error().message);
    return status_only(502);
  }
  if (!*fetched) {
    return status_only(404); // Stash has only its placeholder
  }
  ImageCache::Entry entry{(*fetched)->bytes, sniff_image_type((*fetched)->bytes)};
  if (entry.content_type.empty()) {
    return status_only(502); // not an image: never hand PMS whatever Stash's login page was
  }
  if (auto stored = cache.put(*lease.db, parsed->ref, entry, now_ms()); !stored) {
    LOG_WARN("provider: could not cache an image: " << stored.error().message);
  } else {
    const auto held = cache.bytes(*lease.db);
    const std::lock_guard lock(counters().mutex);
    counters().cache_bytes = held;
  }
  return answer(entry);
}

void Provider::record(const net::ServerRequest& request, const net::ServerResponse& response) {
  const auto settings = backend_.settings();
  if (!settings.provider_record_requests) {
    return;
  }
  nlohmann::json headers = nlohmann::json::object();
  for (const auto& h : request.headers) {
    const auto name = util::to_lower(h.name);
    if (name == "cookie" || name == "authorization" || name == "x-plex-token" || name == "apikey") {
      continue;
    }
    headers[h.name] = util::log::redact(h.value);
  }
  const int64_t now = now_ms();
  nlohmann::json line = {{"at_ms", now},
                         {"method", request.method},
                         {"path", util::log::redact(request.path)},
                         {"query", util::log::redact(request.query)},
                         {"headers", headers},
                         {"body", util::log::redact(request.body.substr(0, k_record_body_bytes))},
                         {"status", response.status}};
  const std::lock_guard lock(record_mutex_);
  // Bounded (issue #31: 58 MiB in 1.4 s): at most k_record_lines_per_second lines a second (the
  // next line written says how many were left out), and a file past k_record_file_bytes becomes
  // provider-requests.1.jsonl (the one before is dropped), so two files are all it ever takes.
  if (now / 1000 != record_second_) {
    record_second_ = now / 1000;
    record_lines_this_second_ = 0;
  }
  if (++record_lines_this_second_ > k_record_lines_per_second) {
    ++record_skipped_;
    return;
  }
  if (record_skipped_ > 0) {
    line["skipped_before"] = record_skipped_;
    record_skipped_ = 0;
  }
  const auto file = data_dir_ + "/provider-requests.jsonl";
  std::error_code ec;
  if (const auto size = std::filesystem::file_size(util::fs_path(file), ec); !ec && size > k_record_file_bytes) {
    (void)util::rename_file(file, data_dir_ + "/provider-requests.1.jsonl");
  }
  if (auto* f = util::open_file(file, "ab")) {
    const auto text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    (void)std::fwrite(text.data(), 1, text.size(), f);
    (void)std::fclose(f);
  }
}

std::unique_ptr<net::HttpServer> serve(Provider& provider, const config::Listen& listen, const AllowList& allow,
                                       OtherRoutes other, size_t other_body_limit) {
  net::PooledLimits limits;
  limits.body_bytes = other ? std::max(k_body_limit, other_body_limit) : k_body_limit;
  limits.header_bytes = k_header_limit;
  limits.receive_ms = k_receive_ms;
  limits.admit = [allow](const std::string& peer) {
    if (allow.allows(peer)) {
      return true;
    }
    count(&Counters::rejected, "source");
    return false;
  };
  limits.on_refused = [](const char* reason) { count(&Counters::rejected, reason); };
  return net::start_pooled_server(
      listen.host, listen.port,
      [&provider, other = std::move(other)](const net::ServerRequest& r) {
        if (other) {
          if (auto answer = other(r)) {
            return std::move(*answer);
          }
        }
        return provider.handle(r);
      },
      limits);
}

} // namespace provider
