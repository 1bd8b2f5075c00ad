// Portrait posters from landscape covers (image/poster.hpp) and the decoder's limits.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "image/codec.hpp"
#include "image/poster.hpp"

namespace {

// A 16:9 picture in three vertical bands: red, green, blue.
std::string banded_jpeg(int width, int height) {
  image::Pixels p;
  p.width = width;
  p.height = height;
  p.rgb.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * 3U);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      auto* px = &p.rgb[(static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x)) * 3U];
      px[x * 3 / width] = 255;
    }
  }
  return image::encode_jpeg(p, 95);
}

const unsigned char* at(const image::Pixels& p, int x, int y) {
  return &p.rgb[(static_cast<size_t>(y) * static_cast<size_t>(p.width) + static_cast<size_t>(x)) * 3U];
}

TEST(PosterShape, SettingValues) {
  EXPECT_EQ(image::poster_shape_of(""), image::PosterShape::as_is);
  EXPECT_EQ(image::poster_shape_of("screenshot"), image::PosterShape::as_is);
  EXPECT_EQ(image::poster_shape_of("crop"), image::PosterShape::crop);
  EXPECT_EQ(image::poster_shape_of("letterbox"), image::PosterShape::letterbox);
  EXPECT_EQ(image::poster_shape_of("square"), std::nullopt);
}

TEST(PosterShape, CropKeepsTheMiddleAtTwoByThree) {
  const auto poster = image::shape_poster(banded_jpeg(1920, 1080), image::PosterShape::crop);
  ASSERT_TRUE(poster);
  EXPECT_EQ(poster->content_type, "image/jpeg");
  const auto p = image::decode(poster->bytes);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->width, 720);
  EXPECT_EQ(p->height, 1080);
  const auto* middle = at(*p, p->width / 2, p->height / 2);
  EXPECT_GT(middle[1], 200) << "the green middle band";
  EXPECT_LT(middle[0], 60);
  EXPECT_LT(middle[2], 60);
}

TEST(PosterShape, LetterboxShowsTheWholeCoverOverADarkerCopy) {
  const auto poster = image::shape_poster(banded_jpeg(1920, 1080), image::PosterShape::letterbox);
  ASSERT_TRUE(poster);
  const auto p = image::decode(poster->bytes);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->width, 1000) << "at most Plex's own poster width";
  EXPECT_EQ(p->height, 1500);
  // The cover across the whole width in the vertical middle: red left, blue right.
  EXPECT_GT(at(*p, 40, 750)[0], 200);
  EXPECT_GT(at(*p, 960, 750)[2], 200);
  // Above it, the blurred copy at 40%: no channel near full.
  for (const int x : {40, 500, 960}) {
    const auto* top = at(*p, x, 40);
    EXPECT_LT(std::max({top[0], top[1], top[2]}), 140) << x;
  }
}

TEST(PosterShape, LeftAsItIsWhenNothingFits) {
  const auto cover = banded_jpeg(320, 180);
  EXPECT_EQ(image::shape_poster(cover, image::PosterShape::as_is), std::nullopt);
  EXPECT_EQ(image::shape_poster(banded_jpeg(200, 300), image::PosterShape::crop), std::nullopt) << "already 2:3";
  EXPECT_EQ(image::shape_poster("RIFF\x10\x00\x00\x00WEBPVP8 ", image::PosterShape::crop), std::nullopt);
  EXPECT_EQ(image::shape_poster("", image::PosterShape::letterbox), std::nullopt);
  EXPECT_EQ(image::shape_poster(cover.substr(0, cover.size() / 3), image::PosterShape::crop).has_value(),
            image::decode(cover.substr(0, cover.size() / 3)).has_value())
      << "a cut file is shaped only if the decoder still reads it";
}

TEST(ImageDecode, AHeaderClaimingAHugePictureIsRefusedBeforeDecoding) {
  // A PNG signature and an IHDR chunk claiming 100000 x 100000 pixels (40 GB as RGB).
  std::string png("\x89PNG\r\n\x1a\n", 8);
  png += std::string("\x00\x00\x00\x0dIHDR", 8);
  png += std::string("\x00\x01\x86\xa0\x00\x01\x86\xa0\x08\x02\x00\x00\x00", 13);
  png += std::string("\x00\x00\x00\x00", 4);
  EXPECT_EQ(image::decode(png), std::nullopt);
}

RC_GTEST_PROP(ImageDecode, AnyBytesDecodeOrNot, (const std::string& bytes)) {
  const auto p = image::decode(bytes);
  if (p) {
    RC_ASSERT(p->rgb.size() == static_cast<size_t>(p->width) * static_cast<size_t>(p->height) * 3U);
  }
  (void)image::shape_poster(bytes, image::PosterShape::letterbox);
}

} // namespace
