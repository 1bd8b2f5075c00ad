// Plex Media Server's HTTP API, the subset a sync needs. JSON only; token only in a header.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>
#include <tl/expected.hpp>

#include "net/http.hpp"

namespace plex {

// What went wrong, classified at the source so the worker's choice is a switch.
enum class Failure {
  connect,          // refused, reset, DNS: Plex is not there
  timeout,          // connect/read timeout or overall deadline
  transient_status, // 5xx
  rate_limited,     // 429 (a proxy in front of Plex)
  auth,             // 401/403 or an untrusted TLS certificate: settings must change; the queue waits
  not_found,        // 404
  permanent_status, // other 4xx
  bad_response,     // 200 with a body we cannot use
  local,            // PlexSync's own storage (the library index) failed: busy or full, not Plex
};
const char* to_string(Failure f);

struct Error {
  Failure kind;
  int status = 0;
  std::optional<int64_t> retry_after_s;
  std::string message;
};

template <typename T> using Result = tl::expected<T, Error>;

struct Section {
  std::string key;
  std::string title;
  std::string type;
  std::vector<std::string> locations;
  std::string agent; // the metadata agent's identifier; a custom agent shows its primary provider's
};

struct PartRef {
  std::string file;
  int64_t size = 0;
  int64_t duration_ms = 0;
};

struct ItemSummary {
  std::string rating_key;
  std::string title;
  int64_t updated_at = 0;
  int64_t added_at = 0;
  std::vector<PartRef> parts;
  // Scalars a listing carries in full (tag lists there are truncated).
  std::string summary;
  std::string studio;
  std::string originally_available_at;
  std::string guid; // local://... while its agent has not matched it
};

struct Page {
  std::vector<ItemSummary> items;
  int64_t total = 0;
  int64_t offset = 0;
};

struct Item {
  std::string rating_key;
  std::string section_id;
  std::string guid; // the identity its agent gave it (local://... while unmatched)
  std::string title;
  std::string title_sort; // titleSort
  std::string summary;
  std::string studio;
  std::string originally_available_at;
  std::string tagline;
  std::string content_rating;
  int64_t year = 0;
  std::optional<double> user_rating;
  int64_t last_rated_at = 0; // when the token's account rated it (0: never or not told)
  std::vector<std::string> genres;
  std::vector<std::string> actors;
  std::vector<std::string> actor_photos; // Role.thumb, parallel to actors
  std::vector<std::string> collections;
  std::set<std::string> locked;
  std::vector<PartRef> parts;
  // Read with others in one request (items()): such answers may be partial, tag lists cut short
  // and no locks listed, as python-plexapi assumes; worker::complete_enough decides.
  bool batched = false;
};

// A collection as a library lists it (type 18).
struct CollectionSummary {
  std::string rating_key;
  std::string title;
  int64_t child_count = 0;
  bool smart = false;
};

using Params = std::vector<std::pair<std::string, std::string>>;

struct ClientIdentity {
  std::string client_id; // stable per installation
  std::string version;
};

class PlexClient {
public:
  PlexClient(std::unique_ptr<net::HttpClient> http, std::string token, ClientIdentity identity);

  Result<std::string> identity(); // machineIdentifier
  Result<std::vector<Section>> sections();
  // Sorted by addedAt; with updated_since > 0 only items updated at or after it (epoch s).
  Result<Page> list_section(const std::string& section_key, int64_t start, int64_t size, int64_t updated_since = 0);
  Result<Item> item(const std::string& rating_key);
  // Several items in one request, GET /library/metadata/{k1,k2,...}, as python-plexapi's
  // fetchItems does for a list of keys. Plex leaves out keys it no longer has and may answer in any
  // order; callers look items up by rating_key. At most k_max_items_per_read keys per call.
  static constexpr size_t k_max_items_per_read = 20;
  Result<std::vector<Item>> items(const std::vector<std::string>& rating_keys);
  // PUT /library/sections/{key}/all?type=1&id=...; refuses an edit without an id.
  Result<void> edit(const std::string& section_key, const std::string& rating_key, const Params& params);
  // Several edits to one item when a single request line would be too long for Plex.
  Result<void> edit_all(const std::string& section_key, const std::string& rating_key,
                        const std::vector<Params>& batches);
  // Raw image bytes become the selected (and locked) poster or background.
  enum class ImageSlot { poster, background };
  Result<void> upload_image(const std::string& rating_key, ImageSlot slot, const std::string& bytes,
                            const std::string& content_type);
  // Every collection of a section (GET .../all?type=18, paged), and one deleted
  // (DELETE /library/collections/{ratingKey}), as python-plexapi lists and deletes them.
  Result<std::vector<CollectionSummary>> collections(const std::string& section_key);
  Result<void> delete_collection(const std::string& rating_key);
  // Partial scan of one folder (as PMS sees it) of a section.
  Result<void> scan(const std::string& section_key, const std::string& folder);
  // Pull libraries: PUT /library/metadata/{id}/refresh makes PMS fetch the item's metadata from
  // its agent again; PUT /library/metadata/{id}/match?guid=&name= binds the item to that GUID
  // (after which PMS fetches it). python-plexapi's refresh() and fixMatch() send the same.
  Result<void> refresh_item(const std::string& rating_key);
  Result<void> bind_item(const std::string& rating_key, const std::string& guid, const std::string& name);
  // The provider and agent API of PMS 1.43+ (spec 2.10), for `plexsync provider register`: any
  // method and target; the answer's MediaContainer (an empty object for an empty answer).
  Result<nlohmann::json> call(const std::string& method, const std::string& target);
  // GET target's MediaContainer (read-only listings such as the play history and /accounts).
  Result<nlohmann::json> get(const std::string& target);
  [[nodiscard]] int64_t requests_sent() const { return requests_; }

private:
  // GET target and its MediaContainer; an XML answer is read once more before it is an error.
  Result<nlohmann::json> read(const std::string& target);
  Result<net::Response> send(const std::string& method, const std::string& target, std::string body = {},
                             const std::string& content_type = {});
  std::unique_ptr<net::HttpClient> http_;
  std::string token_;
  ClientIdentity identity_;
  int64_t requests_ = 0;
};

// Status + headers -> classified error (nullopt for 2xx). Exposed for tests.
std::optional<Error> classify(const net::Response& response, int64_t now_epoch_s);
Error classify(const net::TransportError& error);
// Retry-After as delta seconds or HTTP-date; nullopt when absent or unreadable.
std::optional<int64_t> parse_retry_after(const std::string& value, int64_t now_epoch_s);
std::string build_query(const Params& params);
// The section whose Location holds folder (as Plex sees paths); nullptr when none does.
const Section* section_holding(const std::vector<Section>& sections, const std::string& folder);
// Edits grouped so each request's query stays under max_query_bytes: scalars together, each tag
// list on its own, a list split further only when it alone is too long, and then only between
// entries (an entry's [idx] parameters stay together; removals and the lock come last).
std::vector<Params> split_edit(const Params& params, size_t max_query_bytes);
// PMS documents no request-line limit; PlexSync assumes 8 KiB for the target (path and query), the
// usual default of HTTP servers, and keeps an edit's query under 7 KiB (1 KiB for the path and
// type/id). plexsim enforces the same limit. On a 414 the worker retries once, smaller.
inline constexpr size_t k_max_request_target_bytes = 8192;
inline constexpr size_t k_max_edit_query_bytes = 7168;

} // namespace plex
