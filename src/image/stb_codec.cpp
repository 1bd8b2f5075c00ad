// The one translation unit that compiles Debian's stb implementations (libstb-dev headers; the
// library's own static archive exists only for the build machine's architecture, so the code is
// compiled here for every target). Built without sanitizers (src/CMakeLists.txt): stb is not
// our code, and what it decodes is bounded by image::decode's checks.
#include <cstdint>
#include <limits>

#include "image/codec.hpp"

#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_GIF
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb_image_resize.h>
#define STBI_WRITE_NO_STDIO
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

namespace image {

std::optional<Pixels> decode(std::string_view bytes, int64_t max_pixels) {
  if (bytes.empty() || bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return std::nullopt;
  }
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = static_cast<int>(bytes.size());
  int w = 0;
  int h = 0;
  int channels = 0;
  // The header first: refuse sizes above the cap before any pixel is allocated.
  if (stbi_info_from_memory(data, len, &w, &h, &channels) == 0 || w <= 0 || h <= 0 ||
      int64_t{w} * int64_t{h} > max_pixels) {
    return std::nullopt;
  }
  stbi_uc* pixels = stbi_load_from_memory(data, len, &w, &h, &channels, 3);
  if (pixels == nullptr) {
    return std::nullopt;
  }
  Pixels out;
  out.width = w;
  out.height = h;
  out.rgb.assign(pixels, pixels + static_cast<size_t>(w) * static_cast<size_t>(h) * 3U);
  stbi_image_free(pixels);
  return out;
}

Pixels resize(const Pixels& in, int width, int height) {
  Pixels out;
  out.width = width < 1 ? 1 : width;
  out.height = height < 1 ? 1 : height;
  out.rgb.resize(static_cast<size_t>(out.width) * static_cast<size_t>(out.height) * 3U);
  if (stbir_resize_uint8(in.rgb.data(), in.width, in.height, 0, out.rgb.data(), out.width, out.height, 0, 3) == 0) {
    out.rgb.assign(out.rgb.size(), 0);
  }
  return out;
}

namespace {
void append(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
}
} // namespace

std::string encode_jpeg(const Pixels& in, int quality) {
  std::string out;
  if (stbi_write_jpg_to_func(append, &out, in.width, in.height, 3, in.rgb.data(), quality) == 0) {
    return {};
  }
  return out;
}

} // namespace image
