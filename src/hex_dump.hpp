// The -x format: a hex dump of what crossed the wire, one record per chunk as it crossed,
// every line marked with its direction ('>' sent, '<' received) and its offset in that
// direction's stream, then 16 bytes in hex and as printable ASCII ('.' for the rest):
//   > 00000000  68 65 6c 6c 6f 0a                                 |hello.|
// A server that may take several clients starts each line with the client's label as well:
//   #2 127.0.0.1:40312 < 00000000  68 65 6c 6c 6f 0a                                 |hello.|
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "direction.hpp"

namespace sockcat {

// Formats chunks as hex dump records, keeping each direction's running offset.
class HexDump {
 public:
  // Appends to `out` the record of `chunk`, which crossed in `direction`: its lines start a
  // new line at the chunk's first byte, so chunk boundaries stay visible. A `label` that is
  // not empty starts every line, followed by a space.
  void format(Direction direction, std::span<const char> chunk, std::string& out, std::string_view label = {});

 private:
  std::uint64_t offset_[2] = {0, 0};  // bytes formatted so far, per direction
};

}  // namespace sockcat
