// The metadata provider's parsers: PMS's filename normaliser, the image URL parser and verifier,
// and the allow-list. Normalising is stable and never leaves '..', '.' or empty segments; a parsed
// image path renders back to itself; nothing the network sends can crash them.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "provider/access.hpp"
#include "provider/catalog.hpp"
#include "provider/images.hpp"
#include "util/strings.hpp"

using fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (const auto name = provider::normalize_filename(text)) {
    check(!name->empty() && name->front() != '/' && name->back() != '/');
    check(name->find("//") == std::string::npos);
    for (const auto& part : util::split(*name, '/')) {
      check(part != "." && part != ".." && !part.empty());
    }
    check(provider::normalize_filename(*name) == name);
  }
  const provider::ImageSigner signer(std::string(32, 'k'));
  if (const auto parsed = provider::parse_image_path(text)) {
    check("img/" + text.substr(0, text.rfind('/')) + "/" + parsed->signature ==
          "img/v1/" + parsed->ref.key() + "/" + parsed->signature);
    if (signer.verify(parsed->ref, parsed->signature)) {
      check(provider::image_path(parsed->ref, signer) == "img/" + text);
    }
  }
  if (const auto ref = provider::image_ref_of_stash_url(text)) {
    const auto round = provider::parse_image_path(provider::image_path(*ref, signer).substr(4));
    check(round.has_value() && round->ref.key() == ref->key() && signer.verify(round->ref, round->signature));
  }
  if (auto list = provider::AllowList::parse(text.substr(0, size / 2))) {
    (void)list->allows(text.substr(size / 2));
  }
  return 0;
}
