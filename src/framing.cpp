#include "framing.hpp"

#include <algorithm>
#include <cstring>

#include "table_lookup.hpp"

namespace sockcat {
namespace {

// Bytes of the big-endian length before each message of the length framing.
constexpr std::size_t length_prefix = 4;

// raw: whatever is there is one "message"; nothing is ever too large or incomplete but nothing.
Decoded decode_raw(std::span<const char> input, std::size_t, std::size_t) {
  Decoded found;
  if (input.empty()) return found;
  found.status = DecodeStatus::complete;
  found.payload_size = input.size();
  found.consumed = input.size();
  return found;
}

// Moves `payload` to `out` (memmove: they may overlap); an empty span may have no storage.
void move_payload(std::span<const char> payload, char* out) {
  if (!payload.empty()) std::memmove(out, payload.data(), payload.size());
}

std::size_t encode_raw(std::span<const char> payload, char* out) {
  move_payload(payload, out);
  return payload.size();
}

// line: a payload ends at LF; a CR right before the LF belongs to the line end (CRLF).
Decoded decode_line(std::span<const char> input, std::size_t max_message, std::size_t checked) {
  Decoded found;
  // No LF lies in input[0, checked): the caller was told "incomplete" for those bytes.
  std::size_t from = std::min(checked, input.size());
  const void* lf = from == input.size() ? nullptr : std::memchr(input.data() + from, '\n', input.size() - from);
  if (!lf) {
    // A CR at the very end may be the first half of CRLF, so it does not count yet.
    std::size_t so_far = input.size() - (!input.empty() && input.back() == '\r' ? 1 : 0);
    if (so_far > max_message) found.status = DecodeStatus::too_large;
    return found;
  }
  std::size_t end = static_cast<std::size_t>(static_cast<const char*>(lf) - input.data());
  std::size_t size = end > 0 && input[end - 1] == '\r' ? end - 1 : end;
  if (size > max_message) {
    found.status = DecodeStatus::too_large;
    return found;
  }
  found.status = DecodeStatus::complete;
  found.payload_size = size;
  found.consumed = end + 1;
  return found;
}

std::size_t encode_line(std::span<const char> payload, char* out) {
  move_payload(payload, out);
  out[payload.size()] = '\n';
  return payload.size() + 1;
}

// length: 4 bytes of big-endian payload size, then the payload.
Decoded decode_length(std::span<const char> input, std::size_t max_message, std::size_t) {
  Decoded found;
  if (input.size() < length_prefix) return found;
  std::uint64_t size = 0;
  for (std::size_t i = 0; i < length_prefix; ++i) size = (size << 8) | static_cast<unsigned char>(input[i]);
  if (size > max_message) {
    found.status = DecodeStatus::too_large;
    return found;
  }
  if (input.size() - length_prefix < size) return found;
  found.status = DecodeStatus::complete;
  found.payload_begin = length_prefix;
  found.payload_size = static_cast<std::size_t>(size);
  found.consumed = length_prefix + found.payload_size;
  return found;
}

std::size_t encode_length(std::span<const char> payload, char* out) {
  std::uint32_t size = static_cast<std::uint32_t>(payload.size());
  char prefix[length_prefix] = {static_cast<char>(size >> 24), static_cast<char>(size >> 16),
                                static_cast<char>(size >> 8), static_cast<char>(size)};
  std::memcpy(out, prefix, length_prefix);  // before the move: it fits in front of the payload
  move_payload(payload, out + length_prefix);
  return length_prefix + payload.size();
}

constexpr Framing table[] = {
    {"raw", "a byte stream: no message boundaries (the default)", decode_raw, encode_raw, 0, false},
    {"line", "a message is a line ending in LF (CRLF accepted); replies end in LF", decode_line, encode_line, 1,
     true},
    {"length", "a message is a 4-byte big-endian length and that many bytes", decode_length, encode_length,
     length_prefix, true},
};

}  // namespace

std::span<const Framing> framings() { return table; }

const Framing* find_framing(std::string_view name) { return find_row(framings(), name); }

const Framing& line_framing() { return *find_framing("line"); }

std::vector<std::string_view> framing_names() { return row_names(framings()); }

InPlaceReplies reply_in_place(const Framing& framing, std::span<char> buffer, std::size_t max_message,
                              void (*reply)(std::span<char> payload), std::size_t checked) {
  InPlaceReplies done;
  for (;;) {
    std::span<char> rest = buffer.subspan(done.consumed);
    Decoded message = framing.decode(rest, max_message, done.consumed == 0 ? checked : 0);
    if (message.status == DecodeStatus::too_large) done.too_large = true;
    if (message.status != DecodeStatus::complete) return done;
    std::span<char> payload = rest.subspan(message.payload_begin, message.payload_size);
    reply(payload);
    done.reply_size += framing.encode(payload, buffer.data() + done.reply_size);
    done.consumed += message.consumed;
  }
}

}  // namespace sockcat
