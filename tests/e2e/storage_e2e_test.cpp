// PlexSync's data directory on a disk that fills up, and a database damaged under a running
// worker (issue #17). The full disk is a real one: a 4 MiB tmpfs mounted on the data directory
// (root only; elsewhere the tests say why they skip).
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sys/mount.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "plugin_folder_fixture.hpp"
#include "support/process.hpp"

namespace {

namespace fs = std::filesystem;
using testing_support::wait_for;

class StorageE2E : public testing_support::PluginFolderTest {
protected:
  // Everything but the header page of plexsync.db overwritten, under a running worker's feet.
  void scramble_database(unsigned seed) {
    const std::string db = data_ + "/plexsync.db";
    std::fstream f(db, std::ios::in | std::ios::out | std::ios::binary);
    const auto size = fs::file_size(db);
    f.seekp(4096);
    for (std::uintmax_t i = 4096; i < size; ++i) {
      f.put(static_cast<char>(seed ^ (i * 31)));
    }
  }

  void TearDown() override {
    if (mounted_) {
      // The worker first: nothing may hold files on the mount.
      if (!wait_for([&] { return !util::DataDirLock::held_by_someone(data_); }, std::chrono::seconds(5))) {
        if (const int pid = util::DataDirLock::holder_pid(data_); pid > 0) {
          ::kill(pid, SIGTERM);
        }
        EXPECT_TRUE(wait_for([&] { return !util::DataDirLock::held_by_someone(data_); }, std::chrono::seconds(20)));
      }
      ::umount2(data_.c_str(), MNT_DETACH);
    }
    PluginFolderTest::TearDown();
  }
  // The data directory on its own small disk; false (with the reason) where mounting is not allowed.
  std::string mount_small_disk() {
    fs::create_directories(data_);
    if (::geteuid() != 0) {
      return "mounting a tmpfs needs root";
    }
    if (::mount("tmpfs", data_.c_str(), "tmpfs", 0, "size=4m,mode=0755") != 0) {
      return std::string("mount tmpfs: ") + std::strerror(errno);
    }
    mounted_ = true;
    return "";
  }
  // Takes every free byte of the disk. A worker's checkpoint may shrink the write-ahead log meanwhile
  // and free some space again: that is taken too (a few rounds, bounded).
  void fill_disk() {
    for (int round = 0; round < 5; ++round) {
      std::ofstream filler(data_ + "/filler", std::ios::binary | std::ios::app);
      const std::string chunk(64 * 1024, 'x');
      for (int i = 0; i < 1000 && filler.write(chunk.data(), static_cast<std::streamsize>(chunk.size())); ++i) {
        filler.flush();
      }
      filler.close();
      for (int i = 0; i < 64 * 1024; ++i) { // what a partial chunk left
        std::ofstream more(data_ + "/filler", std::ios::binary | std::ios::app);
        if (!more.write("y", 1) || !more.flush()) {
          break;
        }
      }
      std::ofstream probe(data_ + "/probe", std::ios::binary);
      if (!(probe.write(std::string(8192, 'z').data(), 8192) && probe.flush())) {
        return;
      }
      probe.close();
      fs::remove(data_ + "/probe");
    }
    ADD_FAILURE() << "the disk is not full";
  }
  void free_disk() {
    fs::remove(data_ + "/filler");
    fs::remove(data_ + "/probe");
  }
  bool plex_title_is(int scene_id, const std::string& title) {
    const auto item = plex_.item_json(std::to_string(10000 + scene_id - 1));
    return item.is_object() && item.value("title", "") == title;
  }
  std::string log() const { return testing_support::read_file(data_ + "/plexsync.log"); }
  bool mounted_ = false;
};

TEST_F(StorageE2E, AHookOnAFullDiskSaysSoAndTheChangeArrivesOnceSpaceReturns) {
  if (const auto why = mount_small_disk(); !why.empty()) {
    GTEST_SKIP() << why;
  }
  plex_.generate(20);
  stash_.generate(20);
  stash_.set_plugin_settings("PlexSync", settings({{"worker_idle_seconds", 2}, {"poll_interval_seconds", 1}}));
  ASSERT_TRUE(stash_.update_scene("1", {{"title", "Before the disk filled"}}));
  ASSERT_EQ(hook(1).exit_code, 0);
  ASSERT_TRUE(wait_for([&] { return plex_title_is(1, "Before the disk filled"); }, std::chrono::seconds(30))) << log();
  ASSERT_TRUE(wait_for([&] { return !util::DataDirLock::held_by_someone(data_); }, std::chrono::seconds(20)));

  fill_disk();
  ASSERT_TRUE(stash_.update_scene("8", {{"title", "Saved while the disk was full"}}));
  const auto refused = hook(8);
  const auto result = result_of(refused);
  if (refused.exit_code == 0) {
    // SQLite still had room in the files it had grown before (its write-ahead log kept from an
    // earlier run): the change really is queued, and says so.
    std::cout << "[ note ] the full disk still took the hook's write; it is queued\n";
    EXPECT_TRUE(result.at("output").value("queued", false)) << refused.out;
  } else {
    // Neither the queue nor the spool could keep it: an error that names the cause, never "queued".
    const auto& output = result.at("output");
    EXPECT_TRUE(output.is_null() || !output.value("queued", false)) << refused.out;
    const auto error = result.at("error").is_string() ? result.at("error").get<std::string>() : std::string();
    EXPECT_NE(error.find("full"), std::string::npos) << error;
    EXPECT_NE(error.find("late-update poll"), std::string::npos) << "says how the change still arrives: " << error;
  }

  const auto doctor = testing_support::run_process({bin_, "doctor", "--data-dir", data_}, "");
  EXPECT_NE(doctor.exit_code, 0);
  EXPECT_NE(doctor.out.find("FAIL  free space: 0 MiB free"), std::string::npos) << doctor.out;

  free_disk();
  ASSERT_TRUE(stash_.update_scene("9", {{"title", "Saved after space returned"}}));
  ASSERT_EQ(hook(9).exit_code, 0);
  ASSERT_TRUE(wait_for([&] { return plex_title_is(9, "Saved after space returned"); }, std::chrono::seconds(30)))
      << log();
  // The refused hook's change: found by the late-update poll.
  EXPECT_TRUE(wait_for([&] { return plex_title_is(8, "Saved while the disk was full"); }, std::chrono::seconds(30)))
      << log();
}

TEST_F(StorageE2E, AWorkerThatCannotWritePausesAndResumesWithoutLosingOrBurningAJob) {
  if (const auto why = mount_small_disk(); !why.empty()) {
    GTEST_SKIP() << why;
  }
  plex_.generate(20);
  stash_.generate(20);
  stash_.set_plugin_settings("PlexSync", settings({{"worker_idle_seconds", 30}, {"max_retries", 1}}));
  plex_.faults().set_latency_ms(100); // so that the disk fills while the worker is mid-queue
  for (int id = 1; id <= 12; ++id) {
    ASSERT_TRUE(stash_.update_scene(std::to_string(id), {{"title", "Queued edit " + std::to_string(id)}}));
    const auto answer = hook(id);
    ASSERT_EQ(answer.exit_code, 0) << answer.out;
  }
  ASSERT_TRUE(wait_for([&] { return plex_title_is(1, "Queued edit 1"); }, std::chrono::seconds(30))) << log();
  fill_disk();
  std::this_thread::sleep_for(std::chrono::seconds(3)); // the worker meets the full disk and pauses
  ASSERT_TRUE(util::DataDirLock::held_by_someone(data_)) << "the worker waits instead of exiting";
  free_disk();

  for (int id = 1; id <= 12; ++id) {
    EXPECT_TRUE(
        wait_for([&] { return plex_title_is(id, "Queued edit " + std::to_string(id)); }, std::chrono::seconds(30)))
        << "scene " << id << "\n"
        << log();
  }
  // The edits may all have reached Plex before the disk filled (only recording them failed): the
  // worker's write probe (every 5 s) still has to find the disk usable again and finish them.
  EXPECT_TRUE(wait_for([&] { return log().find("can be written again; resuming the queue") != std::string::npos; },
                       std::chrono::seconds(30)))
      << log();
  const auto status = result_of(run(R"({"mode":"queue_status"})")).at("output");
  EXPECT_EQ(status.value("dead", -1), 0) << status.dump() << "\n" << log();
}

TEST_F(StorageE2E, DamageUnderARunningWorkerIsHealedWithoutARestart) {
  plex_.generate(20);
  stash_.generate(20);
  stash_.set_plugin_settings("PlexSync", settings({{"worker_idle_seconds", 60}}));
  for (int id = 1; id <= 20; ++id) {
    ASSERT_EQ(hook(id).exit_code, 0);
  }
  ASSERT_TRUE(wait_for([&] { return plex_title_is(20, "Stash Title 20 — Été"); }, std::chrono::seconds(60))) << log();
  const int pid = util::DataDirLock::holder_pid(data_);
  ASSERT_GT(pid, 0);

  scramble_database(0x5A);
  ASSERT_TRUE(stash_.update_scene("7", {{"title", "Edited after the damage"}}));
  const auto answer = hook(7);
  ASSERT_EQ(answer.exit_code, 0) << answer.out << answer.err;
  EXPECT_TRUE(result_of(answer).at("output").value("queued", false)) << answer.out;
  ASSERT_TRUE(wait_for([&] { return plex_title_is(7, "Edited after the damage"); }, std::chrono::seconds(60))) << log();
  EXPECT_EQ(util::DataDirLock::holder_pid(data_), pid) << "the same worker healed it and went on";
  EXPECT_NE(log().find("stopping to replace it"), std::string::npos) << log();
  bool kept = false;
  for (const auto& e : fs::directory_iterator(data_)) {
    kept = kept || e.path().filename().string().rfind("plexsync.db.damaged-", 0) == 0;
  }
  EXPECT_TRUE(kept);
}

TEST_F(StorageE2E, DamageATaskFindsUnderAWaitingWorkerIsHealedAtOnce) {
  plex_.generate(6);
  stash_.generate(6);
  stash_.set_plugin_settings("PlexSync", settings({{"worker_idle_seconds", 120}}));
  ASSERT_EQ(hook(1).exit_code, 0);
  ASSERT_TRUE(wait_for([&] { return plex_title_is(1, "Stash Title 1 — Été"); }, std::chrono::seconds(60))) << log();
  const int pid = util::DataDirLock::holder_pid(data_);
  ASSERT_GT(pid, 0);
  // The worker waits (Plex is down, the breaker open): none of its own statements meets the damage.
  plex_.faults().add(sim::fault_from_spec("reset"));
  for (int id = 2; id <= 6; ++id) {
    ASSERT_EQ(hook(id).exit_code, 0);
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  scramble_database(0x3C);
  // Issue #31: queue_status exited 1 until the worker's next start.
  const auto first = run(R"({"mode":"queue_status"})");
  EXPECT_TRUE(wait_for([&] { return run(R"({"mode":"queue_status"})").exit_code == 0; }, std::chrono::seconds(20)))
      << first.out << first.err << "\n"
      << log();
  EXPECT_EQ(util::DataDirLock::holder_pid(data_), pid) << "the same worker replaced it";
  plex_.faults().clear();
  EXPECT_TRUE(wait_for([&] { return plex_title_is(6, "Stash Title 6 — Été"); }, std::chrono::seconds(60))) << log();
}

} // namespace
