#include <catch2/catch.hpp>
#include <string>

#include "transform.hpp"

using namespace sockcat;

namespace {
std::string reply_of(std::string_view name, std::string text) {
  find_transform(name)->reply(std::span<char>(text.data(), text.size()));
  return text;
}
}  // namespace

TEST_CASE("upper changes ASCII a-z only") {
  CHECK(reply_of("upper", "hello, World 123") == "HELLO, WORLD 123");
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  std::string expected = all;
  for (char& c : expected)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  CHECK(reply_of("upper", all) == expected);
  CHECK(reply_of("upper", "caf\xc3\xa9") == "CAF\xc3\xa9");
}
