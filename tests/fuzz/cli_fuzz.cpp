// libFuzzer target: the whole command-line parser, fed argv vectors (NUL-separated arguments).
// Invariants: it never throws or crashes; it either yields options (status 0, no error) or a
// status with one error line (no newline) for usage errors, or text to print.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cli.hpp"
#include "exit_status.hpp"
#include "transform.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> argv{"sockcat"};
  std::string current;
  for (std::size_t i = 0; i < size && argv.size() < 64; ++i) {
    if (data[i] == 0) {
      argv.push_back(current);
      current.clear();
    } else {
      current += static_cast<char>(data[i]);
    }
  }
  argv.push_back(current);

  sockcat::CliOutcome outcome = sockcat::parse_command_line(argv);
  if (outcome.options) {
    if (outcome.status != 0 || !outcome.error.empty()) __builtin_trap();
    if (!outcome.options->transform || !outcome.options->framing) __builtin_trap();
  } else if (outcome.status == sockcat::exit_usage) {
    if (outcome.error.empty() || outcome.error.find('\n') != std::string::npos) __builtin_trap();
  } else if (outcome.status != 0 || outcome.output.empty()) {
    __builtin_trap();
  }
  return 0;
}
