// What -C (LF to CRLF) and -d (a pause between lines) do to the bytes we send, as plain
// functions over chunks: neither cares where the chunk boundaries fall.
#pragma once

#include <cstddef>
#include <span>

namespace sockcat {

// Turns every LF not already preceded by CR into CRLF, across chunk boundaries: an existing
// CRLF passes unchanged, and a lone CR stays a lone CR.
class CrlfConverter {
 public:
  // Writes the converted `in` to `out` and returns its length. `out` must hold 2 * in.size()
  // bytes (the worst case: nothing but LFs).
  std::size_t convert(std::span<const char> in, char* out);

 private:
  bool after_cr_ = false;  // the last byte converted so far was a CR
};

// The length of the first line of `bytes`, its LF included; all of `bytes` when it holds no LF.
std::size_t first_line_length(std::span<const char> bytes);

}  // namespace sockcat
