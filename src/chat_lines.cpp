#include "chat_lines.hpp"

#include <algorithm>

namespace sockcat {
namespace {

constexpr unsigned char escape = 0x1b;
constexpr unsigned char bell = 0x07;

// The byte at `at` of `text` as a number, or 0 past the end.
unsigned byte_at(std::string_view text, std::size_t at) {
  return at < text.size() ? static_cast<unsigned char>(text[at]) : 0;
}

// Skips a CSI sequence's parameters and intermediates (0x20..0x3F) and its final byte
// (0x40..0x7E) from `at`; returns the index after it.
std::size_t skip_csi(std::string_view text, std::size_t at) {
  while (at < text.size() && byte_at(text, at) >= 0x20 && byte_at(text, at) <= 0x3f) ++at;
  if (at < text.size() && byte_at(text, at) >= 0x40 && byte_at(text, at) <= 0x7e) ++at;
  return at;
}

// Skips a control string (OSC, DCS, ...) from `at` through its terminator: BEL, ESC \ or
// the C1 ST (U+009C); returns the index after it (the end when it is unterminated).
std::size_t skip_control_string(std::string_view text, std::size_t at) {
  while (at < text.size()) {
    unsigned c = byte_at(text, at);
    if (c == bell) return at + 1;
    if (c == escape && byte_at(text, at + 1) == '\\') return at + 2;
    if (c == 0xc2 && byte_at(text, at + 1) == 0x9c) return at + 2;
    ++at;
  }
  return at;
}

// Skips what follows an introducer whose meaning as a 7-bit ESC letter is `kind` ('[' for
// CSI, ']' P X ^ _ for strings, anything else is the whole sequence) from `at`.
std::size_t skip_sequence(std::string_view text, std::size_t at, unsigned kind) {
  if (kind == '[') return skip_csi(text, at);
  if (kind == ']' || kind == 'P' || kind == 'X' || kind == '^' || kind == '_') return skip_control_string(text, at);
  return at;
}

}  // namespace

std::string strip_terminal_controls(std::string_view line) {
  std::string kept;
  kept.reserve(line.size());
  std::size_t at = 0;
  while (at < line.size()) {
    unsigned c = byte_at(line, at);
    if (c == escape) {
      if (at + 1 >= line.size()) break;
      at = skip_sequence(line, at + 2, byte_at(line, at + 1));
    } else if (c == 0xc2 && byte_at(line, at + 1) >= 0x80 && byte_at(line, at + 1) <= 0x9f) {
      // U+0080..U+009F: C1 code 0x80 + n is the 7-bit ESC letter 0x40 + n.
      at = skip_sequence(line, at + 2, byte_at(line, at + 1) - 0x40);
    } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
      ++at;
    } else {
      kept += line[at++];
    }
  }
  return kept;
}

void ChatLines::feed(std::span<const char> bytes, std::string& out) {
  std::string_view rest(bytes.data(), bytes.size());
  while (!rest.empty()) {
    if (just_cut_ && rest.front() == '\n') rest.remove_prefix(1);  // the end of a line already relayed
    just_cut_ = false;
    if (rest.empty()) break;
    std::size_t newline = rest.find('\n');
    std::size_t room = chat_line_limit - pending_.size();
    if (newline != std::string_view::npos && newline <= room) {
      pending_.append(rest.substr(0, newline));
      emit(pending_, out);
      pending_.clear();
      rest.remove_prefix(newline + 1);
      continue;
    }
    std::size_t take = std::min(room, rest.size());
    pending_.append(rest.substr(0, take));
    rest.remove_prefix(take);
    if (pending_.size() == chat_line_limit) {  // too long: relay what there is as a line
      emit(pending_, out);
      pending_.clear();
      just_cut_ = true;
    }
  }
}

void ChatLines::finish(std::string& out) {
  if (pending_.empty()) return;
  emit(pending_, out);
  pending_.clear();
}

void ChatLines::emit(std::string_view text, std::string& out) const {
  out += label_;
  out += strip_terminal_controls(text);
  out += '\n';
}

}  // namespace sockcat
