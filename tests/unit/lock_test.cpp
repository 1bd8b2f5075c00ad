#include <filesystem>

#include <gtest/gtest.h>

#include "support/sandbox.hpp"
#include "util/datadirlock.hpp"
#include "util/log.hpp"

namespace {

class LockTest : public testing_support::SandboxedTest {};

TEST_F(LockTest, HeldThenSecondAttemptFails) {
  util::DataDirLock a(dir_);
  ASSERT_TRUE(a.try_acquire());
  EXPECT_TRUE(a.is_held());
  util::DataDirLock b(dir_);
  EXPECT_FALSE(b.try_acquire());
  EXPECT_EQ(b.error(), "held by another process");
  EXPECT_TRUE(util::DataDirLock::held_by_someone(dir_));
}

TEST_F(LockTest, ReleasedOnDestruction) {
  {
    util::DataDirLock a(dir_);
    ASSERT_TRUE(a.try_acquire());
  }
  EXPECT_FALSE(util::DataDirLock::held_by_someone(dir_));
  util::DataDirLock b(dir_);
  EXPECT_TRUE(b.try_acquire());
}

TEST_F(LockTest, SeparateDirsDoNotInterfere) {
  std::filesystem::create_directories(dir_ + "/x");
  std::filesystem::create_directories(dir_ + "/y");
  util::DataDirLock a(dir_ + "/x");
  util::DataDirLock b(dir_ + "/y");
  EXPECT_TRUE(a.try_acquire());
  EXPECT_TRUE(b.try_acquire());
}

TEST(Log, SecretsAreMaskedInEveryLine) {
  std::vector<std::string> lines;
  util::log::set_sink([&](util::log::Level, std::string_view m) { lines.emplace_back(m); });
  util::log::add_secret("tok-SECRET-123");
  LOG_ERROR("request failed with token tok-SECRET-123 in it\nsecond line");
  util::log::set_sink(nullptr);
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(lines[0], "request failed with token <redacted> in it second line");
}

TEST(Log, ObfuscatedPathsAreStableStandIns) {
  util::log::set_obfuscate_paths(false);
  EXPECT_EQ(util::log::display_path("/media/adult/a b.mp4"), "/media/adult/a b.mp4");
  util::log::set_obfuscate_paths(true);
  const auto a = util::log::display_path("/media/adult/Secret Name.mp4");
  EXPECT_EQ(a, util::log::display_path("/media/adult/Secret Name.mp4"));
  EXPECT_NE(a, util::log::display_path("/media/adult/Other.mp4"));
  EXPECT_EQ(a.find("Secret"), std::string::npos);
  EXPECT_EQ(a.rfind("<file:", 0), 0U);
  EXPECT_EQ(a.substr(a.size() - 5), ".mp4>");
  EXPECT_EQ(util::log::display_path("/media/no.extension.dir/file").find(".dir"), std::string::npos);
  util::log::set_obfuscate_paths(false);
}

TEST(Log, DisabledLevelsAreNotFormatted) {
  util::log::set_level(util::log::Level::info);
  int evaluated = 0;
  auto expensive = [&] {
    ++evaluated;
    return "x";
  };
  LOG_DEBUG(expensive());
  EXPECT_EQ(evaluated, 0);
}

} // namespace
