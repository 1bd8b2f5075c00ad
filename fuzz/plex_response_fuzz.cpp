// Plex answers (JSON as asked, but also XML, HTML error pages and garbage) through every read
// the client makes, plus status classification and Retry-After parsing.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fake_http.hpp"
#include "plex/client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  // The first byte picks a status so error classification is reached too.
  static constexpr int k_statuses[] = {200, 200, 200, 200, 401, 404, 429, 500, 503, 414};
  const int status = size > 0 ? k_statuses[data[0] % 10] : 200;
  plex::PlexClient client(std::make_unique<fuzzing::CannedHttp>(body, status, "application/json"), "token",
                          {"fuzz", "0"});
  (void)client.identity();
  (void)client.sections();
  if (auto page = client.list_section("1", 0, 100); page && page->items.size() > body.size()) {
    __builtin_trap(); // an item out of nothing
  }
  (void)client.item("1001");
  (void)client.edit("1", "1001", {{"title.value", "x"}});
  (void)plex::parse_retry_after(body, 1700000000);
  return 0;
}
