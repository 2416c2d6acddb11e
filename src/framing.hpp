// The table of framings: how a byte stream is cut into messages and how a message is put back
// on the wire. Each row has a decoder (bytes in, one whole message or "need more" or an error
// out) and an encoder. Pure code: no I/O, no Asio, so the fuzz targets can link it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sockcat {

// What a decoder found at the start of its input.
enum class DecodeStatus {
  complete,    // one whole message: payload and consumed are set
  incomplete,  // not a whole message yet: read more (nothing is consumed)
  too_large,   // the message announced or begun is longer than the limit
};

// One decoder step. The payload is input[payload_begin, payload_begin + payload_size), and
// the message with its framing took input[0, consumed).
struct Decoded {
  DecodeStatus status = DecodeStatus::incomplete;
  std::size_t payload_begin = 0;
  std::size_t payload_size = 0;
  std::size_t consumed = 0;
};

// Looks for one message at the start of `input`, whose payload may be at most `max_message`
// bytes. Never reads outside `input`; any bytes are valid input. `checked` is a hint: the
// caller already decoded input[0, checked) alone and was told "incomplete", so the decoder
// need not search those bytes again (it keeps a long line from being scanned once per read).
using DecodeFunction = Decoded (*)(std::span<const char> input, std::size_t max_message, std::size_t checked);

// Writes `payload` framed to `out`, which has room for payload.size() + overhead bytes, and
// returns how many bytes it wrote. `out` may overlap the payload if it starts no later than
// the payload and the bytes the framing puts before a payload (4 for length, none otherwise)
// fit between them: the server frames its replies in place this way.
using EncodeFunction = std::size_t (*)(std::span<const char> payload, char* out);

// One row of the framing table.
struct Framing {
  std::string_view name;      // what --framing takes
  std::string_view help;      // one line for the manual and the tests
  DecodeFunction decode;
  EncodeFunction encode;
  std::size_t overhead;       // bytes the encoder adds to a payload, at most
  bool whole_messages;        // false for raw: a "message" is whatever one read returned
};

// All framings; the first (raw) is the default.
std::span<const Framing> framings();

// Returns the framing called `name`, or nullptr.
const Framing* find_framing(std::string_view name);

// The line framing's row: chat lines and `connect -u --framing line` use it as it is.
const Framing& line_framing();

// The table's names, for "did you mean" and the usage line.
std::vector<std::string_view> framing_names();

// What reply_in_place did to a buffer.
struct InPlaceReplies {
  std::size_t reply_size = 0;  // the framed replies now fill buffer[0, reply_size)
  std::size_t consumed = 0;    // the messages answered took buffer[0, consumed) (>= reply_size)
  bool too_large = false;      // the message after them is over the limit
};

// Answers every whole message at the start of `buffer` in place: each payload goes through
// `reply` (a transform's function) and is framed again with the same framing, front to back,
// so the replies never overtake the requests. Bytes from `consumed` on (an incomplete message,
// or the one over `max_message`) are left as they were.
// `checked` is the decoder's hint for the first message (see DecodeFunction).
InPlaceReplies reply_in_place(const Framing& framing, std::span<char> buffer, std::size_t max_message,
                              void (*reply)(std::span<char> payload), std::size_t checked = 0);

}  // namespace sockcat
