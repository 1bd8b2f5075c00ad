#include "image/poster.hpp"

#include <algorithm>
#include <cstdint>

#include "image/codec.hpp"

namespace image {
namespace {

constexpr int k_max_width = 1000; // Plex's own posters are 1000 x 1500
constexpr int k_quality = 90;

// The middle of the picture at 2:3.
Pixels middle_portrait(const Pixels& in) {
  const int width = std::max(1, in.height * 2 / 3);
  const int x0 = (in.width - width) / 2;
  Pixels out;
  out.width = width;
  out.height = in.height;
  out.rgb.resize(static_cast<size_t>(width) * static_cast<size_t>(in.height) * 3U);
  for (int y = 0; y < in.height; ++y) {
    const auto* from = in.rgb.data() + (static_cast<size_t>(y) * static_cast<size_t>(in.width) + x0) * 3U;
    std::copy(from, from + static_cast<size_t>(width) * 3U,
              out.rgb.begin() + static_cast<ptrdiff_t>(static_cast<size_t>(y) * static_cast<size_t>(width) * 3U));
  }
  return out;
}

Pixels at_most(const Pixels& in, int max_width) {
  if (in.width <= max_width) {
    return in;
  }
  return resize(in, max_width, std::max(1, in.height * max_width / in.width));
}

Pixels letterboxed(const Pixels& in) {
  const int width = std::min(in.width, k_max_width);
  const int height = width * 3 / 2;
  // Behind: the middle of the picture, blurred by scaling it down and up again, at 40%.
  const auto middle = middle_portrait(in);
  auto canvas = resize(resize(middle, std::max(1, width / 24), std::max(1, height / 24)), width, height);
  for (auto& c : canvas.rgb) {
    c = static_cast<unsigned char>(c * 2 / 5);
  }
  // In front: the whole picture across the width, in the vertical middle.
  const int fh = std::max(1, in.height * width / in.width);
  const auto front = resize(in, width, fh);
  const int y0 = (height - fh) / 2;
  for (int y = 0; y < fh && y0 + y < height; ++y) {
    std::copy(front.rgb.begin() + static_cast<ptrdiff_t>(static_cast<size_t>(y) * static_cast<size_t>(width) * 3U),
              front.rgb.begin() + static_cast<ptrdiff_t>(static_cast<size_t>(y + 1) * static_cast<size_t>(width) * 3U),
              canvas.rgb.begin() +
                  static_cast<ptrdiff_t>(static_cast<size_t>(y0 + y) * static_cast<size_t>(width) * 3U));
  }
  return canvas;
}

} // namespace

std::optional<PosterShape> poster_shape_of(std::string_view setting) {
  if (setting.empty() || setting == "screenshot") {
    return PosterShape::as_is;
  }
  if (setting == "crop") {
    return PosterShape::crop;
  }
  if (setting == "letterbox") {
    return PosterShape::letterbox;
  }
  return std::nullopt;
}

std::optional<Poster> shape_poster(std::string_view cover, PosterShape shape) {
  if (shape == PosterShape::as_is) {
    return std::nullopt;
  }
  const auto decoded = decode(cover);
  if (!decoded || int64_t{decoded->width} * 3 <= int64_t{decoded->height} * 2) {
    return std::nullopt; // already portrait (2:3 or narrower)
  }
  const auto pixels =
      shape == PosterShape::crop ? at_most(middle_portrait(*decoded), k_max_width) : letterboxed(*decoded);
  auto bytes = encode_jpeg(pixels, k_quality);
  if (bytes.empty()) {
    return std::nullopt;
  }
  return Poster{std::move(bytes), "image/jpeg"};
}

} // namespace image
