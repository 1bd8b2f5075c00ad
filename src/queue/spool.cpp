#include "queue/spool.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/file.hpp"
#include "util/path.hpp"
#include "util/process.hpp"

namespace queue {
namespace {

namespace fs = std::filesystem;

std::string spool_dir(const std::string& data_dir) {
  return data_dir + "/spool";
}

bool is_event_file(const fs::path& p) {
  return p.extension() == ".json";
}

// A .tmp file older than this was left by a hook killed while writing it: never a whole event
// (the hook answered with an error, or not at all), so it can go.
constexpr auto k_stale_tmp_age = std::chrono::hours(1);

std::optional<SpooledEvent> read_event(const fs::path& file) {
  try {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    const auto j = nlohmann::json::parse(text.str());
    SpooledEvent e{j.at("scene_id").get<std::string>(), j.at("event").get<std::string>(), j.at("at_ms").get<int64_t>(),
                   j.value("path", "")};
    if (e.scene_id.empty() || e.event.empty()) {
      return std::nullopt;
    }
    return e;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

} // namespace

util::Result<void> spool_event(const std::string& data_dir, const SpooledEvent& event) {
  const auto dir = spool_dir(data_dir);
  std::error_code ec;
  fs::create_directories(util::fs_path(dir), ec);
  if (ec) {
    return util::fail("cannot create " + dir + ": " + ec.message());
  }
  static std::atomic<int> counter{0};
  // Zero-padded time first: the names sort in the order the events happened.
  char stamp[32];
  (void)std::snprintf(stamp, sizeof stamp, "%015lld", static_cast<long long>(event.at_ms));
  const std::string name =
      std::string(stamp) + "-" + std::to_string(util::current_pid()) + "-" + std::to_string(counter++);
  const std::string tmp = dir + "/" + name + ".tmp";
  const std::string final_path = dir + "/" + name + ".json";
  const nlohmann::json j = {
      {"scene_id", event.scene_id}, {"event", event.event}, {"at_ms", event.at_ms}, {"path", event.path}};
  return util::write_file_durably(tmp, final_path, j.dump() + "\n");
}

util::Result<IngestReport> ingest_spool(const std::string& data_dir, store::Db& db) {
  IngestReport report;
  const auto dir = spool_dir(data_dir);
  std::error_code ec;
  if (!fs::is_directory(util::fs_path(dir), ec)) {
    return report;
  }
  std::vector<fs::path> files;
  const auto stale_before = fs::file_time_type::clock::now() - k_stale_tmp_age;
  for (const auto& entry : fs::directory_iterator(util::fs_path(dir), ec)) {
    if (!entry.is_regular_file()) {
      continue;
    }
    if (is_event_file(entry.path())) {
      files.push_back(entry.path());
    } else if (entry.path().extension() == ".tmp" && entry.last_write_time(ec) < stale_before && !ec) {
      fs::remove(entry.path(), ec);
    }
  }
  std::sort(files.begin(), files.end());
  Queue q(db);
  for (const auto& file : files) {
    auto e = read_event(file);
    if (!e) {
      // Kept for a person to look at; it must not block the events behind it.
      auto bad = file;
      bad += ".bad";
      (void)util::rename_file(util::utf8_path(file), util::utf8_path(bad));
      ++report.bad;
      continue;
    }
    TRY(e->event == "Scene.Destroy.Post" ? q.record_destroy(e->scene_id, e->at_ms, e->path)
                                         : q.enqueue(e->scene_id, e->event, e->at_ms));
    // Deleted only once the queue has it: a crash in between queues it twice, which coalesces.
    fs::remove(file, ec); // path: already a std::filesystem::path
    ++report.queued;
  }
  return report;
}

int spooled_count(const std::string& data_dir) {
  std::error_code ec;
  int n = 0;
  for (const auto& entry : fs::directory_iterator(util::fs_path(spool_dir(data_dir)), ec)) {
    n += entry.is_regular_file() && is_event_file(entry.path()) ? 1 : 0;
  }
  return n;
}

} // namespace queue
