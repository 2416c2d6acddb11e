#include "line_shaping.hpp"

#include <cstring>

namespace sockcat {

std::size_t CrlfConverter::convert(std::span<const char> in, char* out) {
  const char* from = in.data();
  const char* end = in.data() + in.size();
  char* to = out;
  while (from < end) {
    const char* lf = static_cast<const char*>(std::memchr(from, '\n', static_cast<std::size_t>(end - from)));
    const char* stop = lf ? lf : end;
    std::size_t run = static_cast<std::size_t>(stop - from);
    std::memcpy(to, from, run);
    to += run;
    if (run > 0) after_cr_ = from[run - 1] == '\r';
    from = stop;
    if (!lf) break;
    if (!after_cr_) *to++ = '\r';
    *to++ = '\n';
    after_cr_ = false;
    ++from;
  }
  return static_cast<std::size_t>(to - out);
}

std::size_t first_line_length(std::span<const char> bytes) {
  const void* lf = std::memchr(bytes.data(), '\n', bytes.size());
  if (!lf) return bytes.size();
  return static_cast<std::size_t>(static_cast<const char*>(lf) - bytes.data()) + 1;
}

}  // namespace sockcat
