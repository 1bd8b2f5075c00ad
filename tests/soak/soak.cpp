// The soak run: hours of a library's life compressed into minutes. "Sync all scenes" first, then
// scenes are edited in Stash and
// announced by real hook processes (alone and in bursts), while Plex and Stash fail in every
// transient way the simulators know (5xx, 429 with Retry-After, resets, stalls, truncated and
// malformed bodies, outages long enough to open the breaker), another process holds PlexSync's
// database lock for seconds at a time (hooks spool their events), PlexSync's database or its log
// is damaged (overwritten, truncated, emptied) under the hooks and the worker, and the worker is
// SIGKILLed and SIGTERMed at random. Then the faults stop and the queue drains; every scene's Plex item must
// equal what Stash holds, with no dead letters. Prints what happened; exits 1 on any difference.
//
//   soak PATH/TO/plexsync [--seconds 60] [--scenes 120] [--seed N]
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "net/server.hpp"
#include "plexsim.hpp"
#include "stashsim.hpp"
#include "store/db.hpp"
#include "support/process.hpp"
#include "util/datadirlock.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using testing_support::run_process;
using testing_support::wait_for;

struct Options {
  std::string bin;
  int seconds = 60;
  int scenes = 120;
  unsigned seed = 0;
};

Options parse(int argc, char** argv) {
  Options o;
  o.seed = std::random_device{}();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto next = [&]() { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--seconds") {
      o.seconds = std::atoi(next().c_str());
    } else if (a == "--scenes") {
      o.scenes = std::atoi(next().c_str());
    } else if (a == "--seed") {
      o.seed = static_cast<unsigned>(std::strtoul(next().c_str(), nullptr, 10));
    } else {
      o.bin = a;
    }
  }
  return o;
}

// The transient faults a real Plex, its proxy or the network produce. The "weather" changes every
// few seconds: one of these hits a share of the requests until the next change. None is
// permanent: the final state must be reached anyway.
const std::vector<std::pair<std::string, std::string>> k_plex_faults = {
    {"503 with Retry-After", "status=503,retry_after=1"},
    {"500", "status=500"},
    {"429 with Retry-After", "status=429,retry_after=1"},
    {"connection reset", "reset"},
    {"stall past the read timeout", "delay_ms=2500"},
    {"stall mid body", "stall_mid_body_ms=2500"},
    {"truncated body", "truncate"},
    {"malformed body", "malformed"},
    {"edits refused with 503", "method=PUT,status=503"},
    {"outage (breaker opens)", "status=503,times=12,percent=100"},
};
const std::vector<std::pair<std::string, std::string>> k_stash_faults = {
    {"Stash 500", "status=500"},
    {"Stash reset", "reset"},
    {"Stash stall", "delay_ms=2500"},
};

class Soak {
public:
  explicit Soak(Options o) : o_(std::move(o)), rng_(o_.seed) {}

  int run() {
    char templ[] = "/tmp/plexsync-soak-XXXXXX";
    dir_ = mkdtemp(templ);
    plugin_dir_ = dir_ + "/plugins/PlexSync";
    data_ = plugin_dir_ + "/data";
    std::filesystem::create_directories(plugin_dir_);
    std::filesystem::copy_file(o_.bin, plugin_dir_ + "/plexsync");
    testing_support::set_background_output_dir(dir_);
    plex_.generate(o_.scenes);
    stash_.generate(o_.scenes);
    plex_server_ = net::start_server("127.0.0.1", 0, [this](const net::ServerRequest& r) { return plex_.handle(r); });
    stash_server_ = net::start_server("127.0.0.1", 0, [this](const net::ServerRequest& r) { return stash_.handle(r); });
    stash_.set_plugin_settings("PlexSync", {{"plex_url", "http://127.0.0.1:" + std::to_string(plex_server_->port())},
                                            {"plex_token", "plexsim-token"},
                                            {"plex_library", "Adult"},
                                            {"worker_idle_seconds", 3},
                                            {"retry_base_seconds", 1},
                                            {"retry_cap_seconds", 4},
                                            {"max_retries", 30},
                                            {"breaker_threshold", 5},
                                            {"connect_timeout", 1},
                                            {"read_timeout", 2},
                                            {"poll_interval_seconds", 2},
                                            {"plex_requests_per_second", 200}});
    std::printf("soak: %d s, %d scenes, seed %u, data in %s\n", o_.seconds, o_.scenes, o_.seed, dir_.c_str());
    // A new install: "Sync all scenes" queues the whole library, which then syncs under fire.
    const auto all = run_process({plugin_dir_ + "/plexsync", "plugin"}, task_input("all"), {{"PLEXSYNC_DATA_DIR", ""}},
                                 std::chrono::seconds(60));
    if (all.exit_code != 0) {
      std::printf("sync all failed: %s %s\n", all.out.c_str(), all.err.c_str());
      return 1;
    }
    const auto end = Clock::now() + std::chrono::seconds(o_.seconds);
    while (Clock::now() < end) {
      step();
      std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng_() % 180));
    }
    return finish();
  }

private:
  int pick(int n) { return static_cast<int>(rng_() % static_cast<unsigned>(n)); }

  std::string hook_input(int scene) const {
    return R"({"server_connection":{"Scheme":"http","Host":"127.0.0.1","Port":)" +
           std::to_string(stash_server_->port()) + R"(,"SessionCookie":null,"PluginDir":")" + plugin_dir_ +
           R"("},"args":{"hookContext":{"id":)" + std::to_string(scene) +
           R"(,"type":"Scene.Update.Post","input":null,"inputFields":["title","tag_ids","studio_id","date"]},"mode":"hook"}})";
  }

  std::string task_input(const std::string& mode) const {
    return R"({"server_connection":{"Scheme":"http","Host":"127.0.0.1","Port":)" +
           std::to_string(stash_server_->port()) + R"(,"SessionCookie":null,"PluginDir":")" + plugin_dir_ +
           R"("},"args":{"mode":")" + mode + "\"}}";
  }

  // One change a person (or Stash's auto-tagger) makes to a scene.
  void edit(int scene) {
    ++edits_;
    const auto id = std::to_string(scene);
    const int n = ++edit_no_;
    switch (pick(4)) {
    case 0:
      stash_.update_scene(id, {{"title", "Soak title " + std::to_string(n)}});
      break;
    case 1:
      stash_.update_scene(
          id, {{"studio", {{"id", std::to_string(200 + n % 5)}, {"name", "Soak Studio " + std::to_string(n % 5)}}}});
      break;
    case 2: {
      nlohmann::json tags = nlohmann::json::array();
      for (int t = 0; t < 1 + n % 4; ++t) {
        tags.push_back(
            {{"id", std::to_string(300 + (n + t) % 9)}, {"name", "Soak tag " + std::to_string((n + t) % 9)}});
      }
      stash_.update_scene(id, {{"tags", tags}});
      break;
    }
    default:
      stash_.update_scene(id, {{"date", "2025-0" + std::to_string(1 + n % 9) + "-1" + std::to_string(n % 10)}});
      break;
    }
  }

  void hook(int scene) {
    ++hooks_;
    const auto r = run_process({plugin_dir_ + "/plexsync", "plugin"}, hook_input(scene), {{"PLEXSYNC_DATA_DIR", ""}},
                               std::chrono::seconds(30));
    if (r.out.find("\"spooled\":true") != std::string::npos) {
      ++spooled_hooks_;
    }
    if (r.exit_code != 0 || r.out.find("\"queued\":true") == std::string::npos) {
      ++failed_hooks_;
      std::printf("hook for scene %d failed (exit %d): %s %s\n", scene, r.exit_code, r.out.c_str(), r.err.c_str());
    }
  }

  // Another process (a backup, a person in the sqlite3 shell) holds the database's write lock for
  // 1.6-3 s, longer than a hook waits: the hooks meanwhile must spool, and nothing may be lost.
  void hold_database_lock() {
    if (locker_.joinable()) {
      if (locker_busy_) {
        return;
      }
      locker_.join();
    }
    ++db_locks_;
    locker_busy_ = true;
    const int hold_ms = 1600 + pick(1400);
    locker_ = std::thread([this, hold_ms] {
      if (auto db = store::Db::open(data_); db && db->exec("BEGIN IMMEDIATE")) {
        std::this_thread::sleep_for(std::chrono::milliseconds(hold_ms));
        (void)db->exec("ROLLBACK");
      }
      locker_busy_ = false;
    });
  }

  // A power cut, a backup restoring half a file, a disk that drops writes: PlexSync's own state
  // is damaged while hooks and the worker use it. What was queued is lost with it; the worker must
  // find out, keep the damaged files aside and re-sync everything.
  void damage_database() {
    namespace fs = std::filesystem;
    const std::string db = data_ + "/plexsync.db";
    std::error_code ec;
    const auto overwrite = [&](const std::string& path, std::uintmax_t from, std::uintmax_t to) {
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(static_cast<std::streamoff>(from));
      for (auto i = from; i < to && f; ++i) {
        f.put(static_cast<char>(rng_()));
      }
    };
    const auto size = fs::file_size(db, ec);
    if (ec || size < 8192) {
      return;
    }
    const auto wal_size = fs::file_size(db + "-wal", ec);
    const int kind = pick(wal_size > 4096 && !ec ? 5 : 4);
    static const char* const k_names[] = {"second half overwritten", "header overwritten", "truncated", "emptied",
                                          "log's second half overwritten"};
    switch (kind) {
    case 0:
      overwrite(db, size / 2, size);
      break;
    case 1:
      overwrite(db, 0, 100);
      break;
    case 2:
      fs::resize_file(db, size / 3, ec);
      break;
    case 3:
      fs::resize_file(db, 0, ec);
      break;
    default:
      overwrite(db + "-wal", wal_size / 2, wal_size);
      break;
    }
    ++damages_[k_names[kind]];
  }

  [[nodiscard]] int damaged_files_kept() const {
    int n = 0;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(data_, ec)) {
      const auto name = e.path().filename().string();
      n += name.rfind("plexsync.db.damaged-", 0) == 0 && name.find("-wal") == std::string::npos &&
           name.find("-shm") == std::string::npos;
    }
    return n;
  }

  void signal_worker(int sig) {
    const int pid = util::DataDirLock::holder_pid(data_);
    if (pid > 0 && ::kill(pid, sig) == 0) {
      ++(sig == SIGKILL ? sigkills_ : sigterms_);
    }
  }

  // Clear skies one time in five; otherwise one fault for 10-40% of the requests from now on.
  void change_weather(sim::FaultTable& table, const std::vector<std::pair<std::string, std::string>>& kinds,
                      const std::string& scope, std::map<std::string, int>& added) {
    table.clear();
    if (pick(5) == 0) {
      ++added["clear skies"];
      return;
    }
    const auto& [name, spec] = kinds[static_cast<size_t>(pick(static_cast<int>(kinds.size())))];
    table.add(sim::fault_from_spec(scope + "percent=" + std::to_string(10 + pick(31)) + "," + spec));
    ++added[name];
  }

  void step() {
    const int roll = pick(100);
    if (roll < 50) {
      const int scene = 1 + pick(o_.scenes);
      edit(scene);
      hook(scene);
    } else if (roll < 58) {
      // A bulk edit in Stash's UI: many hooks at once.
      ++bursts_;
      std::vector<std::thread> threads;
      for (int i = 0; i < 8; ++i) {
        const int scene = 1 + pick(o_.scenes);
        edit(scene);
        threads.emplace_back([this, scene] { hook(scene); });
      }
      for (auto& t : threads) {
        t.join();
      }
    } else if (roll < 63) {
      // A change no hook announces (a merge, a plugin): the worker's poll must find it.
      edit(1 + pick(o_.scenes));
      ++unannounced_;
    } else if (roll < 80) {
      change_weather(plex_.faults(), k_plex_faults, "", plex_faults_added_);
    } else if (roll < 86) {
      change_weather(stash_.faults(), k_stash_faults, "path=/graphql,", stash_faults_added_);
    } else if (roll < 89) {
      hold_database_lock();
    } else if (roll < 90) {
      damage_database();
    } else if (roll < 97) {
      signal_worker(SIGKILL);
    } else {
      signal_worker(SIGTERM);
    }
  }

  bool scene_matches(int scene, std::string* why) {
    const auto s = *stash_.scene(std::to_string(scene));
    const auto item = plex_.item_json(std::to_string(10000 + scene - 1));
    if (!item.is_object()) {
      *why = "no Plex item";
      return false;
    }
    const auto want_title = s.at("title").get<std::string>();
    if (item.value("title", "") != want_title) {
      *why = "title '" + item.value("title", "") + "', Stash has '" + want_title + "'";
      return false;
    }
    const auto want_studio = s.at("studio").at("name").get<std::string>();
    if (item.value("studio", "") != want_studio) {
      *why = "studio '" + item.value("studio", "") + "', Stash has '" + want_studio + "'";
      return false;
    }
    if (item.value("originallyAvailableAt", "") != s.at("date").get<std::string>()) {
      *why = "date '" + item.value("originallyAvailableAt", "") + "'";
      return false;
    }
    std::set<std::string> want_tags;
    for (const auto& t : s.at("tags")) {
      want_tags.insert(t.at("name").get<std::string>());
    }
    std::set<std::string> have_tags;
    for (const auto& g : item.value("Genre", nlohmann::json::array())) {
      have_tags.insert(g.at("tag").get<std::string>());
    }
    if (have_tags != want_tags) {
      *why = "genres differ from Stash's tags";
      return false;
    }
    return true;
  }

  int finish() {
    if (locker_.joinable()) {
      locker_.join();
    }
    const int64_t plex_fired = plex_.faults().fired();
    const int64_t stash_fired = stash_.faults().fired();
    plex_.faults().clear();
    stash_.faults().clear();
    // Drain: what a user's next save (or the running worker) would do anyway.
    const bool drained = wait_for(
        [&] {
          if (!util::DataDirLock::held_by_someone(data_)) {
            run_process({plugin_dir_ + "/plexsync", "plugin"}, task_input("process_queue"), {{"PLEXSYNC_DATA_DIR", ""}},
                        std::chrono::seconds(120));
          }
          const auto status =
              run_process({plugin_dir_ + "/plexsync", "plugin"}, task_input("queue_status"),
                          {{"PLEXSYNC_DATA_DIR", ""}, {"PLEXSYNC_WORKER_AUTOSTART", "0"}}, std::chrono::seconds(30));
          last_status_ = nlohmann::json::parse(status.out, nullptr, false);
          if (!last_status_.is_object() || !last_status_["output"].is_object()) {
            return false;
          }
          // Quiet means nothing queued, nothing in hand, nothing spooled and no re-sync still owed
          // after a repaired database (its lost jobs are not in the queue until the worker lists Stash).
          const auto& out = last_status_["output"];
          const auto recovered = out.value("database_recovered", nlohmann::json::object());
          return out.value("pending", -1) == 0 && out.value("in_flight", -1) == 0 && out.value("spooled", -1) == 0 &&
                 recovered.value("resync", "") != "pending";
        },
        std::chrono::seconds(180));
    signal_worker(SIGTERM);
    wait_for([&] { return !util::DataDirLock::held_by_someone(data_); }, std::chrono::seconds(30));
    int mismatched = 0;
    for (int scene = 1; scene <= o_.scenes; ++scene) {
      std::string why;
      if (!scene_matches(scene, &why)) {
        if (++mismatched <= 10) {
          std::printf("scene %d differs in Plex: %s\n", scene, why.c_str());
        }
      }
    }
    const auto out = last_status_.is_object() ? last_status_["output"] : nlohmann::json::object();
    const auto stats = out.value("stats", nlohmann::json::object());
    const int64_t dead = out.value("dead", int64_t{-1});
    std::printf("edits: %d (%d announced by %d hook processes, %d bursts of 8; %d left to the poll)\n", edits_,
                edits_ - unannounced_, hooks_.load(), bursts_, unannounced_);
    std::printf("worker kills: %d SIGKILL, %d SIGTERM\n", sigkills_, sigterms_);
    std::printf("database held by another process: %d times; hooks that spooled meanwhile: %d\n", db_locks_,
                spooled_hooks_.load());
    std::printf("database damaged: %d times (", [&] {
      int n = 0;
      for (const auto& [name, k] : damages_) {
        n += k;
      }
      return n;
    }());
    for (const auto& [name, n] : damages_) {
      std::printf("%s x%d; ", name.c_str(), n);
    }
    std::printf("); damaged databases kept aside: %d\n", damaged_files_kept());
    std::printf("Plex weather: %lld requests hit by faults;", static_cast<long long>(plex_fired));
    for (const auto& [name, n] : plex_faults_added_) {
      std::printf(" %s x%d;", name.c_str(), n);
    }
    std::printf("\nStash weather: %lld requests hit by faults;", static_cast<long long>(stash_fired));
    for (const auto& [name, n] : stash_faults_added_) {
      std::printf(" %s x%d;", name.c_str(), n);
    }
    std::printf("\njobs run: %lld (%lld synced, %lld retried later), Plex requests: %zu\n",
                static_cast<long long>(stats.value("jobs", int64_t{0})),
                static_cast<long long>(stats.value("synced", int64_t{0})),
                static_cast<long long>(stats.value("retried", int64_t{0})), plex_.requests().count());
    std::printf("queue drained: %s; dead letters: %lld; failed hooks: %d; scenes differing from Stash: %d of %d\n",
                drained ? "yes" : "NO", static_cast<long long>(dead), failed_hooks_.load(), mismatched, o_.scenes);
    const bool ok = drained && dead == 0 && failed_hooks_ == 0 && mismatched == 0;
    if (!ok) {
      // What CI keeps is this output: the last status and the worker's account of the damage.
      std::printf("last queue_status: %s\n", out.dump().c_str());
      std::ifstream log(data_ + "/plexsync.log");
      for (std::string line; std::getline(log, line);) {
        if (line.find("damaged") != std::string::npos || line.find("recovery") != std::string::npos ||
            line.find("repair") != std::string::npos) {
          std::printf("log: %s\n", line.c_str());
        }
      }
    }
    std::printf("soak: %s\n", ok ? "PASS (Plex equals Stash)" : "FAIL");
    testing_support::set_background_output_dir("");
    plex_server_->stop();
    stash_server_->stop();
    if (ok) {
      std::filesystem::remove_all(dir_);
    }
    return ok ? 0 : 1;
  }

  Options o_;
  std::mt19937 rng_;
  std::string dir_, plugin_dir_, data_;
  plexsim::PlexSim plex_;
  stashsim::StashSim stash_;
  std::unique_ptr<net::HttpServer> plex_server_, stash_server_;
  nlohmann::json last_status_;
  int edits_ = 0, edit_no_ = 0, bursts_ = 0, unannounced_ = 0;
  std::atomic<int> hooks_{0}, failed_hooks_{0}, spooled_hooks_{0}; // bursts hook from threads
  int sigkills_ = 0, sigterms_ = 0, db_locks_ = 0;
  std::thread locker_;
  std::atomic<bool> locker_busy_{false};
  std::map<std::string, int> plex_faults_added_, stash_faults_added_, damages_;
};

} // namespace

int main(int argc, char** argv) {
  const auto o = parse(argc, argv);
  if (o.bin.empty()) {
    std::fprintf(stderr, "usage: soak PATH/TO/plexsync [--seconds 60] [--scenes 120] [--seed N]\n");
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  return Soak(o).run();
}
