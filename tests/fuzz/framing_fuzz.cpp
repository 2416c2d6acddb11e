// libFuzzer target: the framing decoders and reply_in_place. The first byte picks the framing
// and the limit; the rest is the stream. Invariants: a decoder never reads or reports outside
// its input; a complete message is within the limit and makes progress; a shorter prefix of a
// complete message is only ever incomplete; feeding the stream a byte at a time (with the
// `checked` hint) gives the same messages as all at once; reply_in_place with echo returns
// exactly the re-encoded messages; what an encoder writes decodes to the same payload.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <span>
#include <string>
#include <vector>

#include "framing.hpp"
#include "transform.hpp"

namespace {

using namespace sockcat;

void check(bool condition) {
  if (!condition) __builtin_trap();
}

// The payloads of the whole messages at the start of `stream`, and how the rest ends:
// "" (nothing left), "?" (incomplete) or "!" (too large).
struct Split {
  std::vector<std::string> payloads;
  std::string ending;
  std::size_t consumed = 0;
};

Split split_at_once(const Framing& framing, std::span<const char> stream, std::size_t max) {
  Split split;
  for (;;) {
    std::span<const char> rest = stream.subspan(split.consumed);
    Decoded d = framing.decode(rest, max, 0);
    if (d.status == DecodeStatus::too_large) {
      split.ending = "!";
      return split;
    }
    if (d.status == DecodeStatus::incomplete) {
      split.ending = rest.empty() ? "" : "?";
      return split;
    }
    check(d.consumed > 0 && d.consumed <= rest.size());
    check(d.payload_begin + d.payload_size <= d.consumed);
    check(d.payload_size <= max || !framing.whole_messages);  // raw has no limit
    // Every shorter prefix of this message is incomplete.
    for (std::size_t cut = 0; cut < d.consumed; cut += 1 + cut / 8) {
      if (!framing.whole_messages && cut > 0) break;  // raw: any prefix is a message itself
      check(framing.decode(rest.first(cut), max, 0).status == DecodeStatus::incomplete);
    }
    split.payloads.emplace_back(rest.data() + d.payload_begin, d.payload_size);
    split.consumed += d.consumed;
  }
}

Split split_byte_by_byte(const Framing& framing, std::span<const char> stream, std::size_t max) {
  Split split;
  std::string pending;
  std::size_t checked = 0;
  for (char byte : stream) {
    pending += byte;
    for (bool first = true;; first = false) {
      Decoded d = framing.decode(pending, max, first ? checked : 0);
      if (d.status == DecodeStatus::too_large) {
        split.ending = "!";
        return split;
      }
      if (d.status == DecodeStatus::incomplete) break;
      split.payloads.push_back(pending.substr(d.payload_begin, d.payload_size));
      split.consumed += d.consumed;
      pending.erase(0, d.consumed);
    }
    checked = pending.size();
  }
  split.ending = pending.empty() ? "" : "?";
  return split;
}

std::string encode(const Framing& framing, const std::string& payload) {
  std::string out(payload.size() + framing.overhead, '\0');
  std::size_t size = framing.encode(payload, out.data());
  check(size <= out.size());
  out.resize(size);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  auto all = framings();
  const Framing& framing = all[data[0] % all.size()];
  const std::size_t max = (data[0] / all.size()) % 40;  // small limits reach too_large often
  std::vector<char> stream(data + 1, data + size);

  Split whole = split_at_once(framing, stream, max);
  if (framing.whole_messages) {
    Split pieces = split_byte_by_byte(framing, stream, max);
    check(pieces.payloads == whole.payloads);
    check(pieces.ending == whole.ending);
  }

  // Echo in place: the replies are the messages re-encoded, nothing past them is touched.
  std::vector<char> buffer = stream;
  InPlaceReplies replies = reply_in_place(framing, buffer, max, find_transform("echo")->reply);
  std::string expected;
  for (const std::string& payload : whole.payloads) expected += encode(framing, payload);
  check(replies.consumed == whole.consumed);
  check(replies.reply_size <= replies.consumed);
  check(std::string(buffer.data(), replies.reply_size) == expected);
  check(std::equal(buffer.begin() + static_cast<std::ptrdiff_t>(replies.consumed), buffer.end(),
                   stream.begin() + static_cast<std::ptrdiff_t>(replies.consumed)));
  check(replies.too_large == (whole.ending == "!"));

  // Each payload survives encoding and decoding (a line payload ending in CR cannot: the CR
  // joins the LF).
  for (const std::string& payload : whole.payloads) {
    if (framing.name == "line" && !payload.empty() && payload.back() == '\r') continue;
    std::string framed = encode(framing, payload);
    Split again = split_at_once(framing, std::span<const char>(framed.data(), framed.size()), max);
    check(again.payloads.size() == 1 && again.payloads[0] == payload && again.ending.empty());
  }
  return 0;
}
