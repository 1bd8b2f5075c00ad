#include "provider/images.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "util/digest.hpp"
#include "util/file.hpp"
#include "util/path.hpp"
#include "util/strings.hpp"

namespace provider {
namespace {

// kind, variant, and the path Stash serves it on (after /<kind>/<id>/).
struct KnownImage {
  const char* kind;
  const char* variant;
  const char* stash_leaf;
};
constexpr std::array k_known{
    KnownImage{"scene", "screenshot", "screenshot"}, KnownImage{"performer", "image", "image"},
    KnownImage{"studio", "image", "image"},          KnownImage{"group", "front", "frontimage"},
    KnownImage{"group", "back", "backimage"},
};

const KnownImage* known(std::string_view kind, std::string_view variant) {
  for (const auto& k : k_known) {
    if (kind == k.kind && variant == k.variant) {
      return &k;
    }
  }
  return nullptr;
}

} // namespace

std::optional<ImageRef> image_ref_of_stash_url(const std::string& url) {
  if (url.find("default=true") != std::string::npos) {
    return std::nullopt;
  }
  const auto query_at = url.find('?');
  const std::string path = url.substr(0, query_at);
  std::string version = "0";
  if (query_at != std::string::npos) {
    for (const auto& pair : util::split(url.substr(query_at + 1), '&')) {
      if (pair.rfind("t=", 0) == 0 && util::all_digits(pair.substr(2), 20)) {
        version = pair.substr(2);
      }
    }
  }
  // The last three segments: /<kind>/<id>/<leaf> (an external_host may add a prefix before them).
  const auto parts = util::split(path, '/');
  if (parts.size() < 3) {
    return std::nullopt;
  }
  const auto& kind = parts.at(parts.size() - 3);
  const auto& id = parts.at(parts.size() - 2);
  const auto& leaf = parts.back();
  if (!util::all_digits(id, 18)) {
    return std::nullopt;
  }
  for (const auto& k : k_known) {
    if (kind == k.kind && leaf == k.stash_leaf) {
      return ImageRef{kind, id, k.variant, version};
    }
  }
  return std::nullopt;
}

std::string stash_target(const ImageRef& ref) {
  const auto* k = known(ref.kind, ref.variant);
  return "/" + ref.kind + "/" + ref.id + "/" + (k != nullptr ? k->stash_leaf : "") + "?t=" + ref.version;
}

std::string ImageSigner::signature(const ImageRef& ref) const {
  return util::base64url(util::hmac_sha256(key_, "v1/" + ref.key()).substr(0, 16));
}

bool ImageSigner::verify(const ImageRef& ref, const std::string& signature) const {
  return util::constant_time_equal(this->signature(ref), signature);
}

std::string image_path(const ImageRef& ref, const ImageSigner& signer) {
  return "img/v1/" + ref.key() + "/" + signer.signature(ref);
}

std::optional<SignedImage> parse_image_path(std::string_view rest) {
  const auto parts = util::split(rest, '/');
  if (parts.size() != 6 || parts[0] != "v1" || known(parts[1], parts[3]) == nullptr ||
      !util::all_digits(parts[2], 18) || !util::all_digits(parts[4], 20) || parts[5].size() != 22) {
    return std::nullopt;
  }
  return SignedImage{ImageRef{parts[1], parts[2], parts[3], parts[4]}, parts[5]};
}

std::string sniff_image_type(std::string_view b) {
  if (b.size() >= 3 && b.substr(0, 3) == "\xFF\xD8\xFF") {
    return "image/jpeg";
  }
  if (b.size() >= 8 && b.substr(0, 8) == "\x89PNG\r\n\x1A\n") {
    return "image/png";
  }
  if (b.size() >= 12 && b.substr(0, 4) == "RIFF" && b.substr(8, 4) == "WEBP") {
    return "image/webp";
  }
  if (b.size() >= 6 && (b.substr(0, 6) == "GIF87a" || b.substr(0, 6) == "GIF89a")) {
    return "image/gif";
  }
  return {};
}

std::string ImageCache::file_of(const ImageRef& ref) const {
  return dir_ + "/" + ref.kind + "-" + ref.id + "-" + ref.variant + "-" + ref.version;
}

std::optional<ImageCache::Entry> ImageCache::get(store::Db& db, const ImageRef& ref, int64_t now_ms) {
  if (cap_bytes_ <= 0) {
    return std::nullopt;
  }
  auto stmt = db.prepare("SELECT content_type, last_used_ms FROM image_cache WHERE key = ?1");
  if (!stmt) {
    return std::nullopt;
  }
  stmt->bind(1, ref.key());
  auto row = stmt->step();
  if (!row || !*row) {
    return std::nullopt;
  }
  Entry entry{{}, stmt->text_at(0)};
  const int64_t last_used = stmt->int_at(1);
  stmt->reset();
  std::ifstream in(util::fs_path(file_of(ref)), std::ios::binary);
  if (!in) {
    if (auto remove = db.prepare("DELETE FROM image_cache WHERE key = ?1")) {
      (void)remove->bind(1, ref.key()).run();
    }
    return std::nullopt; // the file went away (a cleaned cache folder): fetch again
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  entry.bytes = bytes.str();
  // The use is recorded at most once a minute: a write per hit would cost more than the hit.
  if (now_ms - last_used >= 60'000) {
    if (auto touch = db.prepare("UPDATE image_cache SET last_used_ms = ?2 WHERE key = ?1")) {
      (void)touch->bind(1, ref.key()).bind(2, now_ms).run();
    }
  }
  return entry;
}

util::Result<void> ImageCache::put(store::Db& db, const ImageRef& ref, const Entry& entry, int64_t now_ms) {
  if (cap_bytes_ <= 0 || static_cast<int64_t>(entry.bytes.size()) > cap_bytes_) {
    return {};
  }
  const std::lock_guard lock(mutex_);
  std::error_code ec;
  std::filesystem::create_directories(util::fs_path(dir_), ec);
  const auto file = file_of(ref);
  const auto tmp = file + ".tmp";
  std::filesystem::remove(util::fs_path(tmp), ec);
  TRY(util::write_file_durably(tmp, file, entry.bytes));
  TRY_ASSIGN(auto insert, db.prepare("INSERT OR REPLACE INTO image_cache (key, content_type, size, last_used_ms) "
                                     "VALUES (?1, ?2, ?3, ?4)"));
  TRY(insert.bind(1, ref.key())
          .bind(2, entry.content_type)
          .bind(3, static_cast<int64_t>(entry.bytes.size()))
          .bind(4, now_ms)
          .run());
  // Evict the least recently used until the cache fits.
  int64_t total = bytes(db);
  if (total <= cap_bytes_) {
    return {};
  }
  TRY_ASSIGN(auto oldest, db.prepare("SELECT key, size FROM image_cache ORDER BY last_used_ms ASC"));
  std::vector<std::pair<std::string, int64_t>> victims;
  while (total > cap_bytes_) {
    TRY_ASSIGN(const bool row, oldest.step());
    if (!row) {
      break;
    }
    victims.emplace_back(oldest.text_at(0), oldest.int_at(1));
    total -= oldest.int_at(1);
  }
  oldest.reset();
  TRY_ASSIGN(auto remove, db.prepare("DELETE FROM image_cache WHERE key = ?1"));
  for (const auto& [key, size] : victims) {
    const auto parts = util::split(key, '/');
    if (parts.size() == 4) {
      std::filesystem::remove(util::fs_path(file_of(ImageRef{parts[0], parts[1], parts[2], parts[3]})), ec);
    }
    TRY(remove.bind(1, key).run());
    remove.reset();
  }
  return {};
}

int64_t ImageCache::bytes(store::Db& db) {
  auto stmt = db.prepare("SELECT COALESCE(SUM(size), 0) FROM image_cache");
  if (!stmt) {
    return 0;
  }
  auto row = stmt->step();
  return row && *row ? stmt->int_at(0) : 0;
}

} // namespace provider
