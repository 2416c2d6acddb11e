// framing.hpp: the decoders and encoders of raw, line and length, and replying in place.
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "framing.hpp"
#include "transform.hpp"

using namespace sockcat;

namespace {

const Framing& framing(std::string_view name) {
  const Framing* found = find_framing(name);
  REQUIRE(found != nullptr);
  return *found;
}

// The result of feeding `stream` to a decoder in pieces of `piece` bytes (0 = all at once),
// the way a server reads it: payloads of whole messages, then "!too large" or the bytes left
// over (an incomplete message) as "?<bytes>".
std::vector<std::string> decode_stream(const Framing& f, const std::string& stream, std::size_t max,
                                       std::size_t piece = 0) {
  std::vector<std::string> out;
  std::string pending;
  std::size_t checked = 0;
  for (std::size_t at = 0; at < stream.size();) {
    std::size_t take = piece == 0 ? stream.size() - at : std::min(piece, stream.size() - at);
    pending += stream.substr(at, take);
    at += take;
    for (bool first = true;; first = false) {
      Decoded d = f.decode(pending, max, first ? checked : 0);
      if (d.status == DecodeStatus::too_large) {
        out.push_back("!too large");
        return out;
      }
      if (d.status == DecodeStatus::incomplete) break;
      REQUIRE(d.consumed <= pending.size());
      REQUIRE(d.payload_begin + d.payload_size <= d.consumed);
      out.push_back(pending.substr(d.payload_begin, d.payload_size));
      pending.erase(0, d.consumed);
    }
    checked = pending.size();
  }
  if (!pending.empty()) out.push_back("?" + pending);
  return out;
}

std::string be32(std::uint32_t n) {
  return {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8), static_cast<char>(n)};
}

std::string encoded(const Framing& f, const std::string& payload) {
  std::string out(payload.size() + f.overhead, '\0');
  out.resize(f.encode(payload, out.data()));
  return out;
}

using Messages = std::vector<std::string>;

}  // namespace

TEST_CASE("framing: the table has raw (the default), line and length") {
  auto all = framings();
  REQUIRE(all.size() == 3);
  CHECK(all[0].name == "raw");
  CHECK_FALSE(all[0].whole_messages);
  CHECK(framing("line").whole_messages);
  CHECK(framing("length").whole_messages);
  CHECK(find_framing("lines") == nullptr);
  CHECK(find_framing("") == nullptr);
  CHECK(framing_names() == std::vector<std::string_view>{"raw", "line", "length"});
}

TEST_CASE("framing line: many messages in one segment, CRLF, empty lines") {
  const Framing& line = framing("line");
  CHECK(decode_stream(line, "one\ntwo\r\n\n\r\nthree\n", 100) == Messages{"one", "two", "", "", "three"});
  // Only a CR right before the LF belongs to the line end.
  CHECK(decode_stream(line, "a\rb\n\r\r\n", 100) == Messages{"a\rb", "\r"});
  CHECK(decode_stream(line, "no end", 100) == Messages{"?no end"});
  CHECK(decode_stream(line, "", 100).empty());
}

TEST_CASE("framing line: one message split byte by byte gives the same messages") {
  const Framing& line = framing("line");
  std::string stream = "hello\r\nworld\n\nx\ry\n";
  Messages whole = decode_stream(line, stream, 100);
  CHECK(whole == Messages{"hello", "world", "", "x\ry"});
  CHECK(decode_stream(line, stream, 100, 1) == whole);
  CHECK(decode_stream(line, stream, 100, 2) == whole);
  CHECK(decode_stream(line, stream, 100, 3) == whole);
}

TEST_CASE("framing line: exactly --max-message passes, one byte over does not") {
  const Framing& line = framing("line");
  std::string max(10, 'x');
  CHECK(decode_stream(line, max + "\n", 10) == Messages{max});
  CHECK(decode_stream(line, max + "\r\n", 10) == Messages{max});
  CHECK(decode_stream(line, max + "\r\n", 10, 1) == Messages{max});  // the CR is not counted early
  CHECK(decode_stream(line, max + "y\n", 10) == Messages{"!too large"});
  // Over the limit is known before the LF arrives.
  CHECK(decode_stream(line, max + "y", 10) == Messages{"!too large"});
  CHECK(decode_stream(line, max + "y", 10, 1) == Messages{"!too large"});
  CHECK(decode_stream(line, max + "\r", 10) == Messages{"?" + max + "\r"});
  CHECK(decode_stream(line, "\n", 1) == Messages{""});
}

TEST_CASE("framing length: many messages, split, empty, limits, a short prefix") {
  const Framing& length = framing("length");
  std::string stream = be32(3) + "abc" + be32(0) + be32(5) + "de\nfg";
  Messages expected{"abc", "", "de\nfg"};
  CHECK(decode_stream(length, stream, 100) == expected);
  CHECK(decode_stream(length, stream, 100, 1) == expected);
  CHECK(decode_stream(length, stream, 100, 5) == expected);
  // A prefix cut short, and a payload cut short, are incomplete.
  CHECK(decode_stream(length, be32(3).substr(0, 3), 100) == Messages{"?" + be32(3).substr(0, 3)});
  CHECK(decode_stream(length, be32(3) + "ab", 100) == Messages{"?" + be32(3) + "ab"});
  // Exactly the limit, and one over: refused as soon as the prefix announces it.
  CHECK(decode_stream(length, be32(4) + "wxyz", 4) == Messages{"wxyz"});
  CHECK(decode_stream(length, be32(5), 4) == Messages{"!too large"});
  CHECK(decode_stream(length, be32(0xffffffff), 1 << 30) == Messages{"!too large"});
  // A message after one that is too large is never reached.
  CHECK(decode_stream(length, be32(1) + "a" + be32(9) + "123456789", 4) == Messages{"a", "!too large"});
}

TEST_CASE("framing raw: whatever is there is one message") {
  const Framing& raw = framing("raw");
  CHECK(decode_stream(raw, "ab\ncd", 1) == Messages{"ab\ncd"});
  CHECK(raw.decode({}, 1, 0).status == DecodeStatus::incomplete);
}

TEST_CASE("framing: encoders, and decoding what they encode") {
  CHECK(encoded(framing("line"), "hi") == "hi\n");
  CHECK(encoded(framing("line"), "") == "\n");
  CHECK(encoded(framing("length"), "hi") == be32(2) + "hi");
  CHECK(encoded(framing("length"), "") == be32(0));
  CHECK(encoded(framing("raw"), "hi") == "hi");
  std::mt19937 random(6);
  for (const Framing& f : framings()) {
    if (!f.whole_messages) continue;
    for (int round = 0; round < 200; ++round) {
      std::string payload(random() % 300, '\0');
      for (char& c : payload) c = static_cast<char>(random() % 256);
      if (f.name == "line") {
        for (char& c : payload) if (c == '\n') c = ' ';
        while (!payload.empty() && payload.back() == '\r') payload.pop_back();  // would join the LF
      }
      INFO(f.name << " payload of " << payload.size());
      CHECK(decode_stream(f, encoded(f, payload), payload.size()) == Messages{payload});
    }
  }
}

TEST_CASE("reply_in_place answers every whole message in place and leaves the rest") {
  const Transform& reverse = *find_transform("reverse");
  const Transform& upper = *find_transform("upper");
  SECTION("line, with CRLF replies made LF") {
    std::string buffer = "abc\r\n\nhello\nrest";
    InPlaceReplies r = reply_in_place(framing("line"), buffer, 100, reverse.reply);
    CHECK(buffer.substr(0, r.reply_size) == "cba\n\nolleh\n");
    CHECK(r.consumed == buffer.size() - 4);
    CHECK(buffer.substr(r.consumed) == "rest");
    CHECK_FALSE(r.too_large);
  }
  SECTION("length") {
    std::string buffer = be32(2) + "ab" + be32(0) + be32(3) + "xyz" + be32(9) + "12";
    InPlaceReplies r = reply_in_place(framing("length"), buffer, 100, upper.reply);
    CHECK(buffer.substr(0, r.reply_size) == be32(2) + "AB" + be32(0) + be32(3) + "XYZ");
    CHECK(r.consumed == r.reply_size);
    CHECK(buffer.substr(r.consumed) == be32(9) + "12");
  }
  SECTION("the replies before a message over the limit, then too_large") {
    std::string buffer = "ok\n" + std::string(20, 'x') + "\n";
    InPlaceReplies r = reply_in_place(framing("line"), buffer, 10, upper.reply);
    CHECK(buffer.substr(0, r.reply_size) == "OK\n");
    CHECK(r.consumed == 3);
    CHECK(r.too_large);
  }
  SECTION("the checked hint skips bytes known to hold no LF") {
    std::string buffer = "abcdef\nnext";
    InPlaceReplies r = reply_in_place(framing("line"), buffer, 100, upper.reply, 6);
    CHECK(buffer.substr(0, r.reply_size) == "ABCDEF\n");
    CHECK(buffer.substr(r.consumed) == "next");
  }
}
