// Damage PlexSync's own state can suffer (store/heal.hpp, store/wal_check.hpp): a write-ahead log
// read the way SQLite reads it, a database lost after it existed, damage a statement meets, and
// the recovery record the worker and status read.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "queue/queue.hpp"
#include "store/heal.hpp"
#include "store/wal_check.hpp"
#include "support/sandbox.hpp"

namespace {

namespace fs = std::filesystem;

void overwrite(const std::string& path, std::uintmax_t from, std::uintmax_t length, char byte = 0x5A) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(from));
  for (std::uintmax_t i = 0; i < length; ++i) {
    f.put(static_cast<char>(byte ^ static_cast<char>(i * 31)));
  }
}

class WalCheckTest : public testing_support::DatabaseTest {
protected:
  // db_ stays open, so commits stay in the log; a copy of it is what a crash would leave.
  std::string enqueue_and_copy_log(int jobs) {
    queue::Queue q(*db_);
    for (int i = 0; i < jobs; ++i) {
      EXPECT_TRUE(q.enqueue(std::to_string(next_id_++), "Scene.Update.Post", 1000 + i));
    }
    const auto copy = dir_ + "/copy-" + std::to_string(copies_++) + ".db-wal";
    fs::copy_file(dir_ + "/plexsync.db-wal", copy);
    return copy;
  }
  int next_id_ = 1;
  int copies_ = 0;
};

TEST_F(WalCheckTest, AnIntactLogAndNoLogAreFine) {
  const auto wal = enqueue_and_copy_log(20);
  ASSERT_GT(fs::file_size(wal), 32U * 1024);
  EXPECT_EQ(store::wal_damage(wal), std::nullopt);
  EXPECT_EQ(store::wal_damage(dir_ + "/absent.db-wal"), std::nullopt);
  std::ofstream(dir_ + "/empty.db-wal").close();
  EXPECT_EQ(store::wal_damage(dir_ + "/empty.db-wal"), std::nullopt);
}

TEST_F(WalCheckTest, AnOverwrittenHeaderIsDamage) {
  const auto wal = enqueue_and_copy_log(5);
  overwrite(wal, 0, 32);
  const auto damage = store::wal_damage(wal);
  ASSERT_TRUE(damage);
  EXPECT_NE(damage->find("header"), std::string::npos) << *damage;
}

TEST_F(WalCheckTest, AnOverwrittenSecondHalfIsDamage) {
  const auto wal = enqueue_and_copy_log(20);
  const auto size = fs::file_size(wal);
  overwrite(wal, size / 2, size - size / 2);
  EXPECT_TRUE(store::wal_damage(wal));
}

TEST_F(WalCheckTest, ZeroedFramesInTheMiddleAreDamage) {
  const auto wal = enqueue_and_copy_log(20);
  overwrite(wal, 32 + 3 * (24 + 4096), 2 * (24 + 4096), 0); // zeros: no generation's salt
  EXPECT_TRUE(store::wal_damage(wal));
}

TEST_F(WalCheckTest, WhatACrashLeavesIsNotDamage) {
  // One frame torn at the end of the log: the uncommitted transaction SQLite ignores anyway.
  const auto torn = enqueue_and_copy_log(10);
  overwrite(torn, fs::file_size(torn) - 100, 100);
  EXPECT_EQ(store::wal_damage(torn), std::nullopt);
  // A frame cut short by the end of the file.
  const auto cut = enqueue_and_copy_log(3);
  fs::resize_file(cut, fs::file_size(cut) - 1000);
  EXPECT_EQ(store::wal_damage(cut), std::nullopt);
}

TEST_F(WalCheckTest, FramesOfAnEarlierGenerationAfterARestartAreNotDamage) {
  (void)enqueue_and_copy_log(30);
  ASSERT_TRUE(db_->exec("PRAGMA wal_checkpoint(RESTART)"));
  const auto wal = enqueue_and_copy_log(1); // a short new generation over the longer old one
  EXPECT_EQ(store::wal_damage(wal), std::nullopt);
  // The first frame of the new generation damaged, with later frames of that generation after it.
  overwrite(wal, 32 + 24 + 100, 50);
  const auto damage = store::wal_damage(wal);
  ASSERT_TRUE(damage);
  EXPECT_NE(damage->find("fails its checksum"), std::string::npos) << *damage;
}

class HealTest : public testing_support::SandboxedTest {};

TEST_F(HealTest, ADatabaseLostAfterItExistedIsDamageNotAFreshStart) {
  { ASSERT_TRUE(store::Db::open(dir_)); }
  ASSERT_TRUE(fs::exists(dir_ + "/plexsync.db.created"));
  fs::resize_file(dir_ + "/plexsync.db", 0);
  auto empty = store::Db::open(dir_);
  ASSERT_FALSE(empty);
  EXPECT_TRUE(store::is_damage(empty.error())) << empty.error().message;
  EXPECT_NE(empty.error().message.find("empty"), std::string::npos) << empty.error().message;
  fs::remove(dir_ + "/plexsync.db");
  auto missing = store::Db::open(dir_);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("missing"), std::string::npos) << missing.error().message;

  auto healed = store::open_healing(dir_, 1'700'000'000'000, true);
  ASSERT_TRUE(healed) << healed.error().message;
  const auto r = store::recovery(*healed);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->moved_to, "");
  EXPECT_EQ(r->kept(), "there was no damaged file to keep");
  EXPECT_EQ(r->resync, "pending");
}

TEST_F(HealTest, KnownDamageIsMovedAsideWithoutOpeningIt) {
  {
    auto db = store::Db::open(dir_);
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->put_kv("stash_connection", "kept only when the file is opened"));
  }
  auto healed = store::open_healing(dir_, 1'700'000'000'000, false, 1000, "statement met SQLITE_CORRUPT");
  ASSERT_TRUE(healed) << healed.error().message;
  const auto r = store::recovery(*healed);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, "statement met SQLITE_CORRUPT");
  EXPECT_EQ(fs::path(r->moved_to).filename().string().rfind("plexsync.db.damaged-20231114T", 0), 0U) << r->moved_to;
  EXPECT_TRUE(fs::exists(r->moved_to));
  EXPECT_EQ(*healed->get_kv("stash_connection"), std::nullopt);
  ASSERT_TRUE(store::acknowledge_recovery(*healed));
  EXPECT_FALSE(store::recovery(*healed));
}

// A kill between moving the damaged file aside and recording the recovery in the fresh database
// must not leave a fresh database that believes nothing was lost: the next open repairs again.
TEST_F(HealTest, ARepairCutShortIsFinishedByTheNextOpen) {
  {
    auto db = store::Db::open(dir_);
    ASSERT_TRUE(db);
    ASSERT_TRUE(queue::Queue(*db).enqueue("7", "Scene.Update.Post", 1000));
  }
  // What a kill leaves: the marker, the damaged file moved aside, a fresh database without the record.
  std::ofstream(dir_ + "/" + store::k_repair_marker) << "statement met SQLITE_CORRUPT\n";
  fs::rename(dir_ + "/plexsync.db", dir_ + "/plexsync.db.damaged-earlier");
  fs::remove(dir_ + "/" + store::k_created_marker);
  {
    auto fresh = store::Db::open_during_repair(dir_, 1000);
    ASSERT_TRUE(fresh) << fresh.error().message;
    EXPECT_FALSE(store::recovery(*fresh));
  }
  auto plain = store::Db::open(dir_);
  ASSERT_FALSE(plain);
  EXPECT_TRUE(store::is_damage(plain.error())) << plain.error().message;
  EXPECT_NE(plain.error().message.find("interrupted"), std::string::npos) << plain.error().message;

  auto healed = store::open_healing(dir_, 1'700'000'000'000, true);
  ASSERT_TRUE(healed) << healed.error().message;
  const auto r = store::recovery(*healed);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->resync, "pending");
  EXPECT_NE(r->reason.find("interrupted"), std::string::npos) << r->reason;
  EXPECT_FALSE(fs::exists(dir_ + "/" + store::k_repair_marker));
  healed = tl::unexpected(util::Error{"closed"});
  auto again = store::Db::open(dir_);
  ASSERT_TRUE(again) << again.error().message;
  ASSERT_TRUE(store::recovery(*again)); // the record stays until acknowledged
}

// Killed before anything moved: the damaged file is still in place, and the marker makes the next
// open repair it without having to find the damage again.
TEST_F(HealTest, AMarkerLeftBeforeTheMoveRepairsTheDatabaseInPlace) {
  { ASSERT_TRUE(store::Db::open(dir_)); }
  std::ofstream(dir_ + "/" + store::k_repair_marker) << "quick_check: page 3 is never used\n";
  auto healed = store::open_healing(dir_, 1'700'000'000'000, false);
  ASSERT_TRUE(healed) << healed.error().message;
  const auto r = store::recovery(*healed);
  ASSERT_TRUE(r);
  EXPECT_TRUE(fs::exists(r->moved_to)) << r->moved_to;
  EXPECT_FALSE(fs::exists(dir_ + "/" + store::k_repair_marker));
}

TEST_F(HealTest, AStatementThatMeetsDamageIsNotedOnceForTheWorker) {
  (void)store::take_storage_fault();
  {
    auto db = store::Db::open(dir_);
    ASSERT_TRUE(db);
    queue::Queue q(*db);
    for (int i = 0; i < 400; ++i) {
      ASSERT_TRUE(q.enqueue(std::to_string(i), "Scene.Update.Post", 1000));
    }
  }
  const auto size = fs::file_size(dir_ + "/plexsync.db");
  overwrite(dir_ + "/plexsync.db", size / 2, size - size / 2); // the jobs' later pages
  // Either opening (the schema) or reading the jobs meets the damage; both are statements.
  auto db = store::Db::open(dir_);
  if (db) {
    auto counted = queue::Queue(*db).counts(2000);
    auto checked = store::check_integrity(*db);
    ASSERT_FALSE(counted && checked);
  } else {
    EXPECT_TRUE(store::is_damage(db.error())) << db.error().message;
  }
  const auto fault = store::take_storage_fault();
  EXPECT_EQ(fault.kind, store::StorageFault::damaged) << fault.message;
  EXPECT_EQ(store::take_storage_fault().kind, store::StorageFault::none) << "taken once";
}

TEST_F(HealTest, AnIntegrityCheckRequestIsTakenOnce) {
  EXPECT_FALSE(store::take_integrity_check_request(dir_));
  store::request_integrity_check(dir_);
  EXPECT_TRUE(store::take_integrity_check_request(dir_));
  EXPECT_FALSE(store::take_integrity_check_request(dir_));
}

} // namespace
