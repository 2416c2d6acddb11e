// stdin and stdout as Asio descriptors, and the promise to leave them as they were found.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/posix/stream_descriptor.hpp>

namespace sockcat {

// Records the file status flags (O_NONBLOCK above all) of fds 0 and 1 on construction and puts
// them back on destruction. Asio makes the descriptors it drives non-blocking, and fds 0 and 1
// often share their file description with a terminal or with the shell's other processes.
class StdioFlagsGuard {
 public:
  StdioFlagsGuard();
  ~StdioFlagsGuard();
  StdioFlagsGuard(const StdioFlagsGuard&) = delete;
  StdioFlagsGuard& operator=(const StdioFlagsGuard&) = delete;

 private:
  int stdin_flags_;   // -1 when fd 0 was closed
  int stdout_flags_;  // -1 when fd 1 was closed
};

// Opens /dev/null on whichever of fds 0, 1 and 2 is closed, so nothing else can take those
// numbers: a closed stdin then reads as empty and a closed stdout discards. Call first thing.
void open_missing_stdio();

// A descriptor over a dup() of `fd` (0 or 1), so closing it never closes the process's fd.
// Pipes, terminals and sockets are driven by epoll; regular files and /dev/null, which epoll
// refuses, are read and written directly (they never block). Returns a closed descriptor when
// `fd` itself is closed: reading it then reports bad_descriptor.
asio::posix::stream_descriptor open_stdio(const asio::any_io_executor& executor, int fd);

// The relay's local sink: standard output (a dup() from open_stdio), or /dev/null. Closing it
// closes the process's stdout too, so that a reader downstream (`sockcat ... | consumer`) sees
// end of file while the session goes on: fd 1 then refers to /dev/null, and the file status
// flags stdout had when this was made are put back first (unless stdin is the same file,
// whose flags StdioFlagsGuard restores at exit).
class StdoutSink : public asio::posix::stream_descriptor {
 public:
  // Takes `descriptor`; `is_stdout` says it is a dup() of fd 1 whose closing gives fd 1 up.
  StdoutSink(asio::posix::stream_descriptor descriptor, bool is_stdout);

  // Closes the descriptor and, for stdout, replaces fd 1 by /dev/null. Never fails for
  // stdout's sake: `ec` reports only the descriptor's own close.
  void close(std::error_code& ec);

 private:
  bool is_stdout_;
  int flags_at_open_;  // -1 when unknown or not stdout
};

// Whether stdin is a terminal whose foreground is another process group: reading it would
// stop this process with SIGTTIN (a server started with & from an interactive shell).
bool stdin_is_background_terminal();

// A descriptor over /dev/null opened for writing: a sink that takes everything (--send-only).
// Throws std::system_error if /dev/null cannot be opened.
asio::posix::stream_descriptor open_null_sink(const asio::any_io_executor& executor);

}  // namespace sockcat
