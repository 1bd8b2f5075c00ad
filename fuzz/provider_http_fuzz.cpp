// The metadata provider as PMS (or anyone allowed to reach it) sees it: any method, path and
// body. It never answers 500, never crashes, and a match answer is always a well-formed
// container whose items are PlexSync's own scenes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "match/path_map.hpp"
#include "provider/catalog.hpp"
#include "provider/service.hpp"
#include "store/db.hpp"

namespace {

using fuzz::check;

// Stash is never reached: what the catalog holds is all there is.
class OfflineBackend final : public provider::Backend {
public:
  config::Settings settings() override { return {}; }
  bool ready() override { return true; }
  util::Result<std::optional<stash::Scene>> fetch_scene(const std::string&) override { return util::fail("offline"); }
  util::Result<std::optional<stash::StashClient::Image>> fetch_image(const std::string&) override {
    return util::fail("offline");
  }
  util::Result<std::vector<stash::Scene>> search_scenes(const std::string&, int) override {
    return util::fail("offline");
  }
};

struct World {
  std::string dir;
  OfflineBackend backend;
  std::unique_ptr<provider::Provider> provider;
  World() {
    char tmpl[] = "/tmp/plexsync-fuzz-XXXXXX";
    dir = ::mkdtemp(tmpl);
    auto db = store::Db::open(dir);
    for (int i = 1; i <= 3; ++i) {
      auto scene = stash::scene_from_json(
          {{"id", std::to_string(i)},
           {"title", "Scene " + std::to_string(i)},
           {"files", {{{"path", "/data/Studio/Scene " + std::to_string(i % 2) + ".mp4"}, {"basename", "x.mp4"}}}},
           {"paths", {{"screenshot", "http://s/scene/" + std::to_string(i) + "/screenshot?t=1"}}}});
      (void)provider::store_scene(*db, *scene, match::PathMap{}, 1);
    }
    provider = std::make_unique<provider::Provider>(dir, provider::Secrets{std::string(32, 'a'), std::string(32, 'k')},
                                                    backend);
    provider->rate_limit().set(1e12, 1e12); // every input reaches the routes, not the flood limit
  }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  const std::string text(reinterpret_cast<const char*>(data), size);
  // First line: method and path; the rest: the body.
  const auto eol = text.find('\n');
  const auto head = text.substr(0, eol);
  const auto body = eol == std::string::npos ? std::string() : text.substr(eol + 1);
  net::ServerRequest req;
  const auto space = head.find(' ');
  req.method = head.substr(0, space);
  req.path = space == std::string::npos ? "/" : head.substr(space + 1);
  if (req.path.rfind("/p/", 0) != 0) {
    req.path = "/p/" + std::string(32, 'a') + "/movie" + req.path; // most inputs reach the routes
  }
  req.body = body;
  req.headers.push_back({"Host", "127.0.0.1:9787"});
  const auto res = world.provider->handle(req);
  check(res.status != 500);
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) {
    const auto answer = world.provider->match(j, "http://127.0.0.1:9787/p/x");
    const auto& mc = answer.at("MediaContainer");
    check(mc.at("size") == mc.at("Metadata").size());
    for (const auto& m : mc.at("Metadata")) {
      check(m.at("ratingKey").get<std::string>().rfind("scene-", 0) == 0);
      check(m.at("guid").get<std::string>().ends_with("://movie/" + m.at("ratingKey").get<std::string>()));
    }
  }
  return 0;
}
