// A damaged plexsync.db heals itself (issue #17, store/heal.hpp): for each kind of damage, an edit
// queued before the damage (never synced) and one made after it both reach Plex through the
// hooks and the background worker alone, the damaged file is kept aside, and status reports it.
#include <filesystem>
#include <fstream>
#include <optional>

#include <gtest/gtest.h>

#include "plugin_folder_fixture.hpp"
#include "store/db.hpp"
#include "support/process.hpp"
#include "support/sandbox.hpp"

namespace {

namespace fs = std::filesystem;
using testing_support::wait_for;

enum class Damage { second_half, header, truncated, zero_length, text_file, directory, wal, shm };

// The log's and the index's damage is done to what a worker killed mid-run leaves behind.
bool in_crash_image(Damage d) {
  return d == Damage::wal || d == Damage::shm;
}

std::string name_of(Damage d) {
  switch (d) {
  case Damage::second_half:
    return "second_half_overwritten";
  case Damage::header:
    return "header_overwritten";
  case Damage::truncated:
    return "truncated";
  case Damage::zero_length:
    return "zero_length";
  case Damage::wal:
    return "wal_second_half_overwritten";
  case Damage::shm:
    return "shm_overwritten";
  case Damage::text_file:
    return "a_text_file";
  case Damage::directory:
    return "a_directory";
  }
  return "unknown";
}

void overwrite(const std::string& path, std::uintmax_t from, std::uintmax_t length) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(from));
  for (std::uintmax_t i = 0; i < length; ++i) {
    f.put(static_cast<char>(0x5A ^ (i * 31)));
  }
}

void damage(const std::string& db, Damage kind) {
  if (in_crash_image(kind)) {
    const auto file = db + (kind == Damage::wal ? "-wal" : "-shm");
    const auto size = fs::file_size(file);
    ASSERT_GT(size, 0U) << file;
    overwrite(file, size / 2, size - size / 2);
    return;
  }
  const auto size = fs::file_size(db);
  switch (kind) {
  case Damage::second_half:
    overwrite(db, size / 2, size - size / 2);
    break;
  case Damage::header:
    overwrite(db, 0, 100);
    break;
  case Damage::truncated:
    fs::resize_file(db, size / 3 + 7);
    break;
  case Damage::zero_length:
    fs::resize_file(db, 0);
    break;
  case Damage::text_file:
    fs::remove(db);
    std::ofstream(db) << "this is not a database\n";
    break;
  case Damage::directory:
    fs::remove(db);
    fs::create_directories(db + "/oops");
    break;
  case Damage::wal:
  case Damage::shm:
    break; // above
  }
  fs::remove(db + "-wal");
  fs::remove(db + "-shm");
}

class DbHealE2E : public testing_support::PluginFolderTest, public ::testing::WithParamInterface<Damage> {
protected:
  void SetUp() override {
    PluginFolderTest::SetUp();
    plex_.generate(30);
    stash_.generate(30);
    stash_.set_plugin_settings("PlexSync", settings({{"worker_idle_seconds", 1}}));
  }
  // A hook that only queues (the worker does not start): the state before a damage.
  testing_support::ProcessResult queue_only(int scene_id) {
    return run(R"({"hookContext":{"id":)" + std::to_string(scene_id) +
                   R"(,"type":"Scene.Update.Post","input":null,"inputFields":["title"]},"mode":"hook"})",
               {{"PLEXSYNC_WORKER_AUTOSTART", "0"}});
  }
  bool plex_title_is(int scene_id, const std::string& title) {
    const auto item = plex_.item_json(std::to_string(10000 + scene_id - 1));
    return item.is_object() && item.value("title", "") == title;
  }
  std::vector<std::string> kept_aside() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(data_)) {
      const auto name = e.path().filename().string();
      if (name.rfind("plexsync.db.damaged-", 0) == 0 && name.find("-wal") == std::string::npos &&
          name.find("-shm") == std::string::npos) {
        out.push_back(e.path().filename().string());
      }
    }
    return out;
  }
  // Holds the database open, as a running worker does, so that commits stay in the log.
  std::optional<store::Db> holder_;
  // Then leaves the files as a worker killed by SIGKILL would: the last commits only in -wal.
  void leave_crash_image() {
    const std::string db = data_ + "/plexsync.db";
    const std::string saved = dir_ + "/crash-image";
    fs::create_directories(saved);
    for (const char* suffix : {"", "-wal", "-shm"}) {
      ASSERT_TRUE(fs::exists(db + suffix)) << db + suffix;
      fs::copy_file(db + suffix, saved + "/f" + suffix, fs::copy_options::overwrite_existing);
    }
    holder_.reset(); // the last connection: checkpoints and deletes the log
    for (const char* suffix : {"", "-wal", "-shm"}) {
      fs::copy_file(saved + "/f" + suffix, db + suffix, fs::copy_options::overwrite_existing);
    }
    fs::remove_all(saved);
  }
};

TEST_P(DbHealE2E, EditsBeforeAndAfterTheDamageReachPlex) {
  // A working install: scenes synced, so the database has real content.
  for (int id = 1; id <= 20; ++id) {
    ASSERT_EQ(queue_only(id).exit_code, 0);
  }
  ASSERT_EQ(run(R"({"mode":"process_queue"})").exit_code, 0);
  ASSERT_TRUE(plex_title_is(20, "Stash Title 20 — Été"));
  // Edited and queued, but the worker has not run when the damage happens.
  ASSERT_TRUE(wait_for([&] { return !util::DataDirLock::held_by_someone(data_); }, std::chrono::seconds(20)));
  if (in_crash_image(GetParam())) {
    auto db = store::Db::open(data_);
    ASSERT_TRUE(db) << db.error().message;
    holder_.emplace(std::move(*db));
  }
  ASSERT_TRUE(stash_.update_scene("3", {{"title", "Edited before the damage"}}));
  ASSERT_EQ(queue_only(3).exit_code, 0);
  if (in_crash_image(GetParam())) {
    leave_crash_image();
  }
  damage(data_ + "/plexsync.db", GetParam());

  // After the damage the user edits another scene; the hook and its worker do the rest.
  ASSERT_TRUE(stash_.update_scene("7", {{"title", "Edited after the damage"}}));
  const auto answer = hook(7);
  ASSERT_EQ(answer.exit_code, 0) << answer.out << answer.err;
  EXPECT_EQ(result_of(answer).at("output").value("queued", false), true) << answer.out;
  ASSERT_TRUE(wait_for([&] { return plex_title_is(7, "Edited after the damage"); }, std::chrono::seconds(60)))
      << testing_support::read_file(data_ + "/plexsync.log");
  ASSERT_TRUE(wait_for([&] { return plex_title_is(3, "Edited before the damage"); }, std::chrono::seconds(60)))
      << testing_support::read_file(data_ + "/plexsync.log");

  const auto aside = kept_aside();
  if (GetParam() == Damage::shm) {
    // SQLite rebuilds the index from the log itself: nothing was lost, nothing is replaced.
    EXPECT_TRUE(aside.empty());
    EXPECT_EQ(testing_support::run_process({bin_, "status", "--data-dir", data_}, "").out.find("DATABASE REPLACED"),
              std::string::npos);
    return;
  }
  ASSERT_EQ(aside.size(), 1U) << "the damaged file is kept, under a name that says so";
  if (GetParam() == Damage::wal) {
    EXPECT_TRUE(fs::exists(data_ + "/" + aside[0] + "-wal")) << "the damaged log is kept beside it";
  }
  ASSERT_TRUE(wait_for([&] { return !util::DataDirLock::held_by_someone(data_); }, std::chrono::seconds(30)));
  const auto status = testing_support::run_process({bin_, "status", "--data-dir", data_}, "");
  EXPECT_EQ(status.exit_code, 1) << "a replaced database is reported until acknowledged";
  EXPECT_NE(status.out.find("DATABASE REPLACED"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find(aside[0]), std::string::npos) << status.out;
  const auto queue_status = result_of(run(R"({"mode":"queue_status"})"));
  EXPECT_TRUE(queue_status.at("output").contains("database_recovered")) << queue_status.dump();
  // One error line, in the worker's log, or in Stash's log when the hook itself replaced the file.
  EXPECT_NE((testing_support::read_file(data_ + "/plexsync.log") + answer.err).find("database was damaged"),
            std::string::npos);
  const auto acked = testing_support::run_process({bin_, "status", "--ack-recovery", "--data-dir", data_}, "");
  EXPECT_EQ(acked.out.find("DATABASE REPLACED"), std::string::npos) << acked.out;
  EXPECT_TRUE(fs::exists(data_ + "/" + aside[0])) << "acknowledging keeps the damaged file";
}

INSTANTIATE_TEST_SUITE_P(Damages, DbHealE2E,
                         ::testing::Values(Damage::second_half, Damage::header, Damage::truncated, Damage::zero_length,
                                           Damage::text_file, Damage::directory, Damage::wal, Damage::shm),
                         [](const ::testing::TestParamInfo<Damage>& p) { return name_of(p.param); });

} // namespace
