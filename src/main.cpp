// sockcat: parse the command line, then run the chosen backend. The one place where
// outcomes become the process's exit status.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <string>
#include <system_error>
#include <unistd.h>
#include <vector>

#include "backend.hpp"
#include "cli.hpp"
#include "diag.hpp"
#include "exit_status.hpp"
#include "stdio.hpp"

namespace {

// Writes the help, version or transform list to stdout and flushes it. Returns false, having
// said why in one line, when it cannot all be written (a full disk, a bad descriptor). A
// reader that went away (EPIPE: `sockcat --help | head -1`) is an ordinary end, as elsewhere.
bool write_output(const std::string& text) {
  if (std::fputs(text.c_str(), stdout) >= 0 && std::fflush(stdout) == 0) return true;
  if (errno == EPIPE) return true;
  sockcat::diag::error("cannot write to stdout", std::error_code(errno, std::generic_category()));
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  // Closed standard descriptors would be reused by the first socket or eventfd we open, and
  // stdin or stdout would then alias it: give them /dev/null (empty input, discarded output).
  sockcat::open_missing_stdio();

  // A reader that goes away is an ordinary end, reported by write() as EPIPE, not a signal.
  std::signal(SIGPIPE, SIG_IGN);

  // Read the command line; help, version and usage errors end here.
  sockcat::CliOutcome outcome = sockcat::parse_command_line(std::vector<std::string>(argv, argv + argc));
  if (!outcome.options) {
    if (!outcome.error.empty()) sockcat::diag::error(outcome.error);
    if (!outcome.output.empty() && !write_output(outcome.output)) return sockcat::exit_failure;
    return outcome.status;
  }
  sockcat::diag::set_verbosity(outcome.options->verbosity);

  // Leave stdin and stdout as we found them, whatever happens below.
  sockcat::StdioFlagsGuard stdio_flags;

  // Listen or connect until done or interrupted.
  return sockcat::run(*outcome.options);
}
