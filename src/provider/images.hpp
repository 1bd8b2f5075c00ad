// Images PMS fetches through PlexSync (spec 4.5): Stash's image URLs need Stash's credentials,
// PMS sends none, so the provider hands PMS signed, versioned URLs of its own and fetches the
// bytes from Stash itself. The URL carries no query string, so nothing between PMS and PlexSync
// can drop the version.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "store/db.hpp"
#include "util/expected.hpp"

namespace provider {

// One image of a Stash object at one version: scene/screenshot, performer/image, studio/image,
// group/front, group/back.
struct ImageRef {
  std::string kind;
  std::string id;
  std::string variant;
  std::string version; // Stash's cache buster (t=), digits
  [[nodiscard]] std::string key() const { return kind + "/" + id + "/" + variant + "/" + version; }
};

// From an image URL Stash built (paths.screenshot, image_path); nullopt for anything else and
// for Stash's placeholders (default=true).
std::optional<ImageRef> image_ref_of_stash_url(const std::string& url);
// The path and query to request on Stash's own address.
std::string stash_target(const ImageRef& ref);

class ImageSigner {
public:
  explicit ImageSigner(std::string key) : key_(std::move(key)) {}
  // base64url of the first 16 bytes of HMAC-SHA256 over "v1/<kind>/<id>/<variant>/<version>".
  [[nodiscard]] std::string signature(const ImageRef& ref) const;
  [[nodiscard]] bool verify(const ImageRef& ref, const std::string& signature) const;

private:
  std::string key_;
};

// "img/v1/<kind>/<id>/<variant>/<version>/<sig>", relative to the provider's base path.
std::string image_path(const ImageRef& ref, const ImageSigner& signer);
// The reverse of image_path for "v1/<kind>/<id>/<variant>/<version>/<sig>" (after "img/");
// nullopt for any other shape, unknown kinds and variants, and ids or versions not all digits.
struct SignedImage {
  ImageRef ref;
  std::string signature;
};
std::optional<SignedImage> parse_image_path(std::string_view rest);

// A bounded disk cache: one file per image under dir, an index row per file in image_cache,
// least recently used files evicted above cap_bytes (0: nothing is kept).
class ImageCache {
public:
  ImageCache(std::string dir, int64_t cap_bytes) : dir_(std::move(dir)), cap_bytes_(cap_bytes) {}
  struct Entry {
    std::string bytes;
    std::string content_type;
  };
  std::optional<Entry> get(store::Db& db, const ImageRef& ref, int64_t now_ms);
  util::Result<void> put(store::Db& db, const ImageRef& ref, const Entry& entry, int64_t now_ms);
  // Bytes held (the index's sum).
  int64_t bytes(store::Db& db);

private:
  [[nodiscard]] std::string file_of(const ImageRef& ref) const;
  std::string dir_;
  int64_t cap_bytes_;
  std::mutex mutex_;
};

// What the bytes are, from their first bytes (JPEG, PNG, WebP, GIF); "" when none of these.
std::string sniff_image_type(std::string_view bytes);

} // namespace provider
