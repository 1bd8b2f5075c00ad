// Portrait posters from Stash's landscape covers (issue #26): Plex's Movies libraries show 2:3
// posters, and a 16:9 screenshot there is shrunk into a strip. The cover is cropped to its middle
// 2:3, or letterboxed over a blurred, darkened copy of itself.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace image {

enum class PosterShape { as_is, crop, letterbox };
// The poster_shape setting: "" or "screenshot" as_is, "crop", "letterbox"; nullopt for others.
std::optional<PosterShape> poster_shape_of(std::string_view setting);

struct Poster {
  std::string bytes;
  std::string content_type;
};
// nullopt: leave the cover as it is (as_is, a picture that is already portrait, or bytes the
// decoder does not read, such as WebP).
std::optional<Poster> shape_poster(std::string_view cover, PosterShape shape);

} // namespace image
