// The platform layer (util/process, util/file, util/datadirlock, util/path, util/utc_time, util/wake), the
// same tests on every OS: natively in the suite, and as platform_tests.exe under Wine
// (scripts/windows.sh). Every directory has a space and non-ASCII letters in its name, the case
// that broke the first Windows port. The binary doubles as the child process of the spawn test.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "queue/spool.hpp"
#include "util/datadirlock.hpp"
#include "util/file.hpp"
#include "util/path.hpp"
#include "util/process.hpp"
#include "util/utc_time.hpp"
#include "util/wake.hpp"

namespace {

namespace fs = std::filesystem;

std::string read_all(const std::string& utf8_path) {
  std::ifstream in(util::fs_path(utf8_path), std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Waits (bounded) for a condition that another process or thread makes true.
template <typename Condition> bool eventually(Condition condition, int timeout_ms = 10'000) {
  for (int waited = 0; waited < timeout_ms; waited += 20) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

class PlatformTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::random_device seed;
    const auto base = util::utf8_path(fs::temp_directory_path());
    dir_ = base + "/plexsync platform " + std::to_string(seed() % 1000000) + " Stäsh 日本";
    fs::create_directories(util::fs_path(dir_));
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(util::fs_path(dir_), ec);
  }
  std::string dir_;
};

TEST(UtcTime, CivilDaysAndBack) {
  EXPECT_EQ(util::days_from_civil(1970, 1, 1), 0);
  EXPECT_EQ(util::days_from_civil(2000, 3, 1), 11017);
  EXPECT_EQ(util::days_from_civil(1969, 12, 31), -1);
  for (int64_t t = -5'000'000'000; t < 5'000'000'000; t += 86'399 * 37 + 1) {
    const auto civil = util::from_epoch(t);
    ASSERT_EQ(util::to_epoch(civil), t) << civil.year << "-" << civil.month << "-" << civil.day;
  }
  EXPECT_EQ(util::from_epoch(0).weekday, 4);         // a Thursday
  EXPECT_EQ(util::from_epoch(951782400).weekday, 2); // 2000-02-29, a Tuesday
  EXPECT_EQ(util::from_epoch(-86400).weekday, 3);    // 1969-12-31, a Wednesday
  EXPECT_EQ(util::format_utc(951782400, "%Y-%m-%d %a"), "2000-02-29 Tue");
  EXPECT_EQ(util::format_utc(1732752000 + 3723, "%Y-%m-%dT%H:%M:%SZ"), "2024-11-28T01:02:03Z");
}

TEST(UtcTime, ParsesIsoAndHttpDates) {
  size_t rest = 0;
  const auto t = util::parse_iso_datetime("2024-02-29T23:59:58+01:00", &rest);
  ASSERT_TRUE(t);
  EXPECT_EQ(util::to_epoch(*t), 1709251198);
  EXPECT_EQ(rest, 19U);
  EXPECT_FALSE(util::parse_iso_datetime("2023-02-29T00:00:00Z")) << "not a leap year";
  EXPECT_FALSE(util::parse_iso_datetime("2024-13-01T00:00:00Z"));
  EXPECT_FALSE(util::parse_iso_datetime("2024-01-01"));
  EXPECT_FALSE(util::parse_iso_datetime("yesterday"));
  EXPECT_EQ(util::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_FALSE(util::parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"));
  EXPECT_FALSE(util::parse_http_date("Sun, 31 Nov 1994 08:49:37 GMT"));
  EXPECT_FALSE(util::parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT")) << "RFC 850 dates are obsolete";
}

TEST_F(PlatformTest, NonAsciiPathsSurviveTheFileSystem) {
  const std::string sub = dir_ + "/Ünïcode 目录";
  fs::create_directories(util::fs_path(sub));
  bool found = false;
  for (const auto& entry : fs::directory_iterator(util::fs_path(dir_))) {
    found = found || util::utf8_path(entry.path().filename()) == "Ünïcode 目录";
  }
  EXPECT_TRUE(found) << "the directory's name on disk is not the UTF-8 name it was given";
  EXPECT_EQ(util::parent_dir(sub + "/file.txt"), util::utf8_path(util::fs_path(sub)));
  std::FILE* f = util::open_file(sub + "/log ü.txt", "ab");
  ASSERT_NE(f, nullptr);
  (void)std::fputs("line\n", f);
  (void)std::fclose(f);
  EXPECT_EQ(read_all(sub + "/log ü.txt"), "line\n") << "binary mode: no \\r added";
  EXPECT_TRUE(util::rename_file(sub + "/log ü.txt", sub + "/log ü.txt.1"));
  EXPECT_EQ(read_all(sub + "/log ü.txt.1"), "line\n");
  EXPECT_TRUE(util::can_create_files_in(sub));
  EXPECT_FALSE(util::can_create_files_in(sub + "/missing"));
}

TEST_F(PlatformTest, DurableWriteCreatesReplacesAndRefuses) {
  const std::string final_path = dir_ + "/event ü.json";
  ASSERT_TRUE(util::write_file_durably(dir_ + "/a.tmp", final_path, "first\n"));
  EXPECT_EQ(read_all(final_path), "first\n");
  EXPECT_FALSE(fs::exists(util::fs_path(dir_ + "/a.tmp")));
  ASSERT_TRUE(util::write_file_durably(dir_ + "/b.tmp", final_path, "second\n")) << "replaces an existing file";
  EXPECT_EQ(read_all(final_path), "second\n");
  { std::ofstream(util::fs_path(dir_ + "/c.tmp")) << "someone else's"; }
  const auto clash = util::write_file_durably(dir_ + "/c.tmp", final_path, "third\n");
  ASSERT_FALSE(clash) << "the temporary file must be new";
  EXPECT_NE(clash.error().message.find("c.tmp"), std::string::npos) << clash.error().message;
  EXPECT_EQ(read_all(final_path), "second\n");
  const auto missing = util::write_file_durably(dir_ + "/no/d.tmp", dir_ + "/no/d.json", "x");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("cannot write"), std::string::npos) << missing.error().message;
}

TEST_F(PlatformTest, SpoolWritesEventsInANonAsciiDataDir) {
  ASSERT_TRUE(queue::spool_event(dir_, {"7", "Scene.Update.Post", 1700000000000, ""}));
  ASSERT_TRUE(queue::spool_event(dir_, {"8", "Scene.Destroy.Post", 1700000000001, "/media/ü.mp4"}));
  EXPECT_EQ(queue::spooled_count(dir_), 2);
}

TEST_F(PlatformTest, DataDirLockIsExclusiveAndNamesItsHolder) {
  util::DataDirLock a(dir_);
  ASSERT_TRUE(a.try_acquire()) << a.error();
  util::DataDirLock b(dir_);
  EXPECT_FALSE(b.try_acquire());
  EXPECT_EQ(b.error(), "held by another process");
  EXPECT_TRUE(util::DataDirLock::held_by_someone(dir_));
  EXPECT_EQ(util::DataDirLock::holder_pid(dir_), util::current_pid()) << "the pid stays readable while locked";
  a.release();
  EXPECT_FALSE(util::DataDirLock::held_by_someone(dir_));
  EXPECT_EQ(util::DataDirLock::holder_pid(dir_), 0);
  EXPECT_TRUE(b.try_acquire());
  util::DataDirLock missing(dir_ + "/missing");
  EXPECT_FALSE(missing.try_acquire());
  EXPECT_NE(missing.error().find("cannot open"), std::string::npos) << missing.error();
}

TEST(Process, KnowsItself) {
  const auto exe = util::own_executable_path("");
  ASSERT_FALSE(exe.empty());
  EXPECT_TRUE(fs::is_regular_file(util::fs_path(exe))) << exe;
  EXPECT_EQ(util::utf8_path(util::fs_path(exe).stem()), "platform_tests");
  EXPECT_GT(util::current_pid(), 0);
  EXPECT_TRUE(util::environment_variable("PATH").has_value());
  EXPECT_FALSE(util::environment_variable("PLEXSYNC_SURELY_UNSET_VARIABLE").has_value());
}

// The spawned child (this binary with --child-report) writes its arguments, one per line, and
// whether it has a console, then renames the report into place so the parent never reads half.
TEST_F(PlatformTest, DetachedChildGetsItsArgumentsAndNoConsole) {
  const std::string report = dir_ + "/report ü.txt";
  const std::vector<std::string> args{"--child-report", report,          "two words", "quote\"inside",
                                      "trailing\\",     "back\\\\slash", "ü 日本",    ""};
  ASSERT_TRUE(util::spawn_detached(util::own_executable_path(""), args, dir_ + "/sink.log"));
  ASSERT_TRUE(eventually([&] { return fs::exists(util::fs_path(report)); })) << "the child never reported";
  std::string expected;
  for (size_t i = 2; i < args.size(); ++i) {
    expected += "[" + args[i] + "]\n";
  }
  expected += "console=0\n";
  EXPECT_EQ(read_all(report), expected);
}

TEST_F(PlatformTest, StopRequestReachesTheWorkerOfThatDataDir) {
  std::atomic<bool> stop{false};
  util::on_stop_request(&stop, dir_);
  EXPECT_FALSE(stop.load());
  EXPECT_EQ(util::request_stop(dir_, util::current_pid()), "");
  EXPECT_TRUE(eventually([&] { return stop.load(); }, 5000)) << "the stop request never arrived";
}

// What a hook does after it queued a job, and what the idle worker waits on.
TEST_F(PlatformTest, AWakeUpFromAnotherProcessEndsTheWorkersWait) {
  util::wake_worker(dir_); // nobody listens yet: returns at once, leaves nothing behind
  util::WakeListener wake(dir_);
  ASSERT_TRUE(wake.ready());
  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(wake.wait(50)) << "no wake-up was sent";
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(40));
  util::wake_worker(dir_);
  util::wake_worker(dir_);
  EXPECT_TRUE(wake.wait(1000));
  EXPECT_FALSE(wake.wait(20)) << "wake-ups sent before a wait coalesce into one";
  ASSERT_TRUE(util::spawn_detached(util::own_executable_path(""), {"--child-wake", dir_}, dir_ + "/sink.log"));
  EXPECT_TRUE(wake.wait(10'000)) << "the child's wake-up never arrived";
}

int child_report(const std::vector<std::string>& args) {
  std::string text;
  for (size_t i = 3; i < args.size(); ++i) {
    text += "[" + args[i] + "]\n";
  }
  text += std::string("console=") + (util::stderr_is_console() ? "1" : "0") + "\n";
  return util::write_file_durably(args[2] + ".tmp", args[2], text) ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  const auto args = util::utf8_arguments(argc, argv);
  if (args.size() >= 3 && args[1] == "--child-report") {
    return child_report(args);
  }
  if (args.size() >= 3 && args[1] == "--child-wake") {
    util::wake_worker(args[2]);
    return 0;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
