// Decoding, resizing and JPEG encoding of pictures, done by Debian's stb headers (libstb-dev).
// Only image/stb_codec.cpp compiles them: this small interface is all the rest of PlexSync sees.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace image {

// 8-bit RGB, rows top to bottom, 3 bytes a pixel.
struct Pixels {
  int width = 0;
  int height = 0;
  std::vector<unsigned char> rgb;
};

// JPEG, PNG, GIF (first frame) or BMP; nullopt for anything else (WebP included) and for
// pictures above max_pixels, so a hostile file cannot make PlexSync allocate gigabytes.
std::optional<Pixels> decode(std::string_view bytes, int64_t max_pixels = 40'000'000);
// A scaled copy; width and height at least 1.
Pixels resize(const Pixels& in, int width, int height);
// Baseline JPEG at quality 1-100; "" if the encoder failed.
std::string encode_jpeg(const Pixels& in, int quality);

} // namespace image
