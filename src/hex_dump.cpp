#include "hex_dump.hpp"

#include <cstdio>

namespace sockcat {
namespace {

constexpr std::size_t bytes_per_line = 16;
constexpr char hex_digits[] = "0123456789abcdef";

}  // namespace

void HexDump::format(Direction direction, std::span<const char> chunk, std::string& out, std::string_view label) {
  std::uint64_t& offset = offset_[static_cast<int>(direction)];
  const char marker = direction == Direction::sent ? '>' : '<';
  for (std::size_t at = 0; at < chunk.size(); at += bytes_per_line) {
    std::span<const char> line = chunk.subspan(at, std::min(bytes_per_line, chunk.size() - at));
    if (!label.empty()) {
      out += label;
      out += ' ';
    }
    char head[32];
    int length = std::snprintf(head, sizeof head, "%c %08llx  ", marker,
                               static_cast<unsigned long long>(offset + at));
    out.append(head, static_cast<std::size_t>(length));
    for (std::size_t i = 0; i < bytes_per_line; ++i) {
      if (i == bytes_per_line / 2) out += ' ';
      if (i < line.size()) {
        auto byte = static_cast<unsigned char>(line[i]);
        out += hex_digits[byte >> 4];
        out += hex_digits[byte & 0xf];
        out += ' ';
      } else {
        out.append("   ");
      }
    }
    out += " |";
    for (char c : line) {
      auto byte = static_cast<unsigned char>(c);
      out += byte >= 0x20 && byte < 0x7f ? c : '.';
    }
    out += "|\n";
  }
  offset += chunk.size();
}

}  // namespace sockcat
