// sockcat: parse the command line, then run the chosen backend. The one place where
// outcomes become the process's exit status.
#include <csignal>
#include <cstdio>
#include <string>
#include <unistd.h>
#include <vector>

#include "backend.hpp"
#include "cli.hpp"
#include "diag.hpp"
#include "stdio.hpp"

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
    if (!outcome.output.empty()) std::fputs(outcome.output.c_str(), stdout);
    return outcome.status;
  }
  sockcat::diag::set_verbosity(outcome.options->verbosity);

  // Leave stdin and stdout as we found them, whatever happens below.
  sockcat::StdioFlagsGuard stdio_flags;

  // Listen or connect until done or interrupted.
  return sockcat::run(*outcome.options);
}
