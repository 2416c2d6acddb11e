#include <catch2/catch.hpp>
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "options.hpp"
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

namespace {
// Python's bytes.upper() for one byte: only ASCII a-z change.
char python_upper(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return (u >= 0x61 && u <= 0x7a) ? static_cast<char>(u - 0x20) : c;
}

std::string every_byte() {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  return all;
}

// Runs `fn` over `text` cut into consecutive pieces of the given sizes (the rest goes last).
std::string run_in_pieces(ChunkFunction fn, std::string text, const std::vector<std::size_t>& cuts) {
  std::size_t at = 0;
  for (std::size_t size : cuts) {
    size = std::min(size, text.size() - at);
    fn(std::span<char>(text.data() + at, size));
    at += size;
  }
  fn(std::span<char>(text.data() + at, text.size() - at));
  return text;
}
}  // namespace

TEST_CASE("the registry lists none, echo and upper, none first") {
  auto all = transforms();
  REQUIRE(all.size() >= 3);
  CHECK(all[0].name == "none");
  CHECK(all[1].name == "echo");
  CHECK(all[2].name == "upper");
  CHECK(all[0].reply == nullptr);
  for (std::size_t i = 1; i < all.size(); ++i) {
    INFO("transform " << all[i].name);
    CHECK(all[i].reply != nullptr);
    CHECK_FALSE(all[i].help.empty());
  }
  // Names are unique and transform_names() follows the registry's order.
  std::vector<std::string_view> names = transform_names();
  REQUIRE(names.size() == all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    CHECK(names[i] == all[i].name);
    for (std::size_t j = i + 1; j < all.size(); ++j) CHECK(all[i].name != all[j].name);
  }
}

TEST_CASE("none is the default of Options and has no reply function") {
  Options defaults;
  CHECK(defaults.transform->name == "none");
  const Transform* none = defaults.transform;
  REQUIRE(none != nullptr);
  CHECK(none == &transforms()[0]);
  CHECK(none->reply == nullptr);
}

TEST_CASE("find_transform finds every registered name and nothing else") {
  for (const Transform& t : transforms()) {
    const Transform* found = find_transform(t.name);
    REQUIRE(found != nullptr);
    CHECK(found->name == t.name);
    CHECK(found == &t);
  }
  CHECK(find_transform("") == nullptr);
  CHECK(find_transform("uper") == nullptr);
  CHECK(find_transform("UPPER") == nullptr);
  CHECK(find_transform("upper ") == nullptr);
  CHECK(find_transform("no-such-transform") == nullptr);
}

TEST_CASE("echo leaves every byte value unchanged") {
  std::string all = every_byte();
  CHECK(reply_of("echo", all) == all);
  std::string twice = all + all;
  std::reverse(twice.begin(), twice.end());
  CHECK(reply_of("echo", twice) == twice);
  CHECK(reply_of("echo", "") == "");
}

TEST_CASE("upper is Python's bytes.upper() on each of the 256 byte values") {
  for (int b = 0; b < 256; ++b) {
    std::string one(1, static_cast<char>(b));
    std::string expected(1, python_upper(one[0]));
    if (b >= 'a' && b <= 'z') expected[0] = static_cast<char>(b - 32);
    INFO("byte " << b);
    CHECK(reply_of("upper", one) == expected);
  }
  CHECK(reply_of("upper", std::string("a\0b", 3)) == std::string("A\0B", 3));
  CHECK(reply_of("upper", "\xc3\xa4\xc3\xb6") == "\xc3\xa4\xc3\xb6");  // UTF-8 "äö" stays
  CHECK(reply_of("upper", "`{@[") == "`{@[");  // the neighbours of a-z and A-Z
  CHECK(reply_of("upper", "") == "");
}

TEST_CASE("describe_transforms has one line per transform, starting with its name") {
  std::string text = describe_transforms();
  REQUIRE_FALSE(text.empty());
  CHECK(text.back() == '\n');
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    REQUIRE(end != std::string::npos);
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  auto all = transforms();
  REQUIRE(lines.size() == all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    INFO("line: " << lines[i]);
    std::string prefix = std::string(all[i].name) + " ";
    CHECK(lines[i].rfind(prefix, 0) == 0);
    CHECK(lines[i].find(all[i].help) != std::string::npos);
  }
}

TEST_CASE("replying transforms do not depend on where chunks are cut") {
  std::mt19937 random(20240607);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string data(64 * 1024, '\0');
  for (char& c : data) c = static_cast<char>(byte(random));
  // Make letters common so that the split points often fall beside them.
  for (std::size_t i = 0; i < data.size(); i += 3) data[i] = static_cast<char>('a' + (i % 26));

  for (const Transform& t : transforms()) {
    if (!t.reply || t.whole_messages) continue;
    INFO("transform " << t.name);
    std::string whole = run_in_pieces(t.reply, data, {});
    if (t.name == "upper") {
      std::string expected = data;
      for (char& c : expected) c = python_upper(c);
      CHECK(whole == expected);
    }
    if (t.name == "echo") CHECK(whole == data);
    CHECK(run_in_pieces(t.reply, data, std::vector<std::size_t>(data.size(), 1)) == whole);
    for (int round = 0; round < 50; ++round) {
      std::vector<std::size_t> cuts;
      std::uniform_int_distribution<std::size_t> piece(0, 5000);
      for (std::size_t total = 0; total < data.size();) {
        cuts.push_back(piece(random));
        total += cuts.back();
      }
      CHECK(run_in_pieces(t.reply, data, cuts) == whole);
    }
  }
}

TEST_CASE("lower, rot13 and reverse") {
  CHECK(reply_of("lower", "Hello, WORLD 123 \xc3\x89") == "hello, world 123 \xc3\x89");
  CHECK(reply_of("rot13", "Hello, World! az AZ nm") == "Uryyb, Jbeyq! nm NM az");
  std::string all = every_byte();
  CHECK(reply_of("rot13", reply_of("rot13", all)) == all);
  for (int b = 0; b < 256; ++b) {
    std::string one(1, static_cast<char>(b));
    bool letter = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
    INFO("byte " << b);
    CHECK((reply_of("rot13", one) != one) == letter);
    CHECK(reply_of("lower", one) == std::string(1, (b >= 'A' && b <= 'Z') ? static_cast<char>(b + 32) : one[0]));
  }
  CHECK(reply_of("reverse", "abc") == "cba");
  CHECK(reply_of("reverse", "") == "");
  CHECK(reply_of("reverse", std::string("a\0b\xff", 4)) == std::string("\xff" "b\0a", 4));
}

TEST_CASE("only reverse needs whole messages; chunk transforms do not") {
  for (const Transform& t : transforms()) {
    INFO("transform " << t.name);
    CHECK(t.whole_messages == (t.name == "reverse"));
  }
}
