// The worker in-process against plexsim/stashsim over loopback, with virtual time for backoff
// (plexsim and stashsim keep real time). Shared by the integration suites.
#pragma once

#include <algorithm>

#include <gtest/gtest.h>

#include "queue/queue.hpp"
#include "store/db.hpp"
#include "support/fake_clock.hpp"
#include "support/sandbox.hpp"
#include "worker/worker.hpp"

namespace testing_support {

class WorkerFixture : public SimulatorsTest {
protected:
  void SetUp() override {
    SimulatorsTest::SetUp();
    plex_.generate(6);
    stash_.generate(6);
    configure({});
    auto db = store::Db::open(dir_);
    ASSERT_TRUE(db) << db.error().message;
    db_.emplace(std::move(*db));
    ASSERT_TRUE(worker::save_connection(*db_, {stash_url(), "session", ""}));
  }

  void configure(const nlohmann::json& overrides) {
    nlohmann::json s = {
        {"plex_url", plex_url()}, {"plex_token", "plexsim-token"},   {"plex_library", "Adult"}, {"connect_timeout", 1},
        {"read_timeout", 1},      {"retry_base_seconds", 1},         {"retry_cap_seconds", 60}, {"max_retries", 5},
        {"breaker_threshold", 3}, {"plex_requests_per_second", 1000}};
    if (overrides.is_object()) {
      s.update(overrides);
    }
    stash_.set_plugin_settings("PlexSync", s);
    settings_json_ = s;
  }

  void enqueue(std::initializer_list<int> scenes) {
    queue::Queue q(*db_);
    for (int id : scenes) {
      ASSERT_TRUE(q.enqueue(std::to_string(id), "Scene.Update.Post", clock_.now_ms()));
    }
  }

  worker::Worker& worker() {
    if (!worker_) {
      worker_.emplace(*db_, clock_, rng_);
    }
    return *worker_;
  }

  // Runs the worker until the queue is empty, moving virtual time past each backoff.
  void drain(int rounds = 40) {
    for (int i = 0; i < rounds; ++i) {
      worker().run(worker::RunMode::drain);
      if (counts().pending == 0 && counts().in_flight == 0) {
        return;
      }
      clock_.advance(61'000);
    }
  }

  queue::Counts counts() { return *queue::Queue(*db_).counts(clock_.now_ms()); }

  struct JobRow {
    int64_t attempts = -1;
    int64_t next_attempt_ms = 0;
    std::string last_error;
  };
  JobRow job(int scene) {
    auto stmt =
        db_->prepare("SELECT attempts, next_attempt_ms, coalesce(last_error, '') FROM jobs WHERE scene_id = ?1");
    stmt->bind(1, std::to_string(scene));
    if (!*stmt->step()) {
      return {};
    }
    return {stmt->int_at(0), stmt->int_at(1), stmt->text_at(2)};
  }

  int requests(const std::string& method, const std::string& path_prefix, bool exact = false) {
    int n = 0;
    for (const auto& r : plex_.requests().snapshot()) {
      n += r.method == method && (exact ? r.path == path_prefix : r.path.rfind(path_prefix, 0) == 0) ? 1 : 0;
    }
    return n;
  }

  // Listings of a library's items (the index), and of its collections (type 18), apart.
  int section_listings(bool collections, const std::string& section = "1") {
    int n = 0;
    for (const auto& r : plex_.requests().snapshot()) {
      const bool type18 = std::any_of(r.query.begin(), r.query.end(),
                                      [](const auto& kv) { return kv.first == "type" && kv.second == "18"; });
      n += r.method == "GET" && r.path == "/library/sections/" + section + "/all" && type18 == collections ? 1 : 0;
    }
    return n;
  }
  int index_listings() { return section_listings(false); }

  bool synced(int scene) {
    const auto item = plex_.item_json(std::to_string(10000 + scene - 1));
    return item.is_object() && item.value("title", "") == stash_.scene(std::to_string(scene))->at("title");
  }

  nlohmann::json breaker() { return nlohmann::json::parse(db_->get_kv("breaker")->value_or("{}")); }

  int64_t outages(bool open_only) {
    auto stmt = db_->prepare(open_only ? "SELECT count(*) FROM outages WHERE ended_ms IS NULL"
                                       : "SELECT count(*) FROM outages");
    (void)stmt->step();
    return stmt->int_at(0);
  }

  nlohmann::json settings_json_; // what configure() last gave Stash
  testing_support::FakeClock clock_;
  testing_support::FixedRng rng_{0.5};
  std::optional<store::Db> db_;
  std::optional<worker::Worker> worker_;
};

} // namespace testing_support
