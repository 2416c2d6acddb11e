// What a --chat server relays of one client's bytes: each complete line, labelled with the
// client's name and stripped of anything that could drive a terminal.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace sockcat {

// The longest incomplete line a chat client may leave pending; a longer one is relayed in
// pieces of this many bytes, each as a line of its own.
inline constexpr std::size_t chat_line_limit = 4096;

// Returns `line` without terminal controls: C0 controls other than TAB, DEL, escape sequences
// (CSI "ESC [ ... final byte"; the strings OSC, DCS, SOS, PM and APC up to BEL or ST; any
// other ESC with the byte after it) and the C1 controls U+0080..U+009F as UTF-8 encodes them
// (their CSI and string forms with their sequences). Every other byte passes, UTF-8 and
// invalid UTF-8 alike (a raw byte 0x80..0x9F is a UTF-8 continuation byte, not a control).
std::string strip_terminal_controls(std::string_view line);

// Cuts one client's byte stream into labelled lines.
class ChatLines {
 public:
  // `label` starts every relayed line, e.g. "<user3> ".
  explicit ChatLines(std::string label) : label_(std::move(label)) {}

  // Appends to `out` each line that `bytes` completes (label + stripped text + "\n") and
  // keeps the rest, at most chat_line_limit bytes, for the next call.
  void feed(std::span<const char> bytes, std::string& out);

  // Appends the pending incomplete line, if any, as a line of its own (at the client's end).
  void finish(std::string& out);

 private:
  // Appends one relayed line for `text` (without its newline).
  void emit(std::string_view text, std::string& out) const;

  std::string label_;
  std::string pending_;    // an incomplete line, never chat_line_limit bytes or more
  bool just_cut_ = false;  // a too-long line was just relayed: a newline next ends it, silently
};

}  // namespace sockcat
