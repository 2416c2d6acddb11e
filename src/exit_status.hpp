// Named process exit codes; main() is the only place they become the process status.
#pragma once

namespace sockcat {

// The exit statuses the manual (man/sockcat.1, EXIT STATUS) and README promise.
enum ExitStatus : int {
  exit_ok = 0,               // success
  exit_failure = 1,          // runtime failure: refused, reset, unknown host, address in use...
  exit_usage = 2,            // bad command line
  exit_interrupted = 130,    // 128 + SIGINT
  exit_terminated = 143,     // 128 + SIGTERM
};

}  // namespace sockcat
