// GraphQL answers from Stash: the client's error handling and the scene/settings readers.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fake_http.hpp"
#include "stash/client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  const int status = size > 0 && data[0] == '!' ? 500 : (size > 0 && data[0] == '?' ? 422 : 200);
  stash::StashClient client(std::make_unique<fuzzing::CannedHttp>(body, status, "application/json"),
                            {"session", "cookie", ""});
  (void)client.facts();
  (void)client.find_scene("1");
  (void)client.plugin_settings();
  (void)client.fetch_image("http://stash:9999/scene/1/screenshot?t=1");
  return 0;
}
