// For in-process tests of the sessions that use the process's own stdin and stdout (listen -k,
// the broker): fds 0 and 1 turned into pipes the test holds the other ends of, for as long
// as the session takes to open them (it dup()s them, stdio.hpp's open_stdio), then put back so
// that the test framework's own output goes where it went.
#pragma once

#include <fcntl.h>
#include <stdexcept>
#include <unistd.h>

namespace sockcat::in_process {

// While alive (or until restore()), fd 0 reads from a pipe the test writes through
// `stdin_writer`, and fd 1 writes to a pipe the test reads through `stdout_reader`. Both of
// the test's ends are close-on-exec (no child inherits them); the test takes them over.
class StdioRedirect {
 public:
  StdioRedirect() {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    saved_stdin_ = ::fcntl(0, F_DUPFD_CLOEXEC, 3);
    saved_stdout_ = ::fcntl(1, F_DUPFD_CLOEXEC, 3);
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::close(in[0]);
    ::close(out[1]);
    stdin_writer = in[1];
    stdout_reader = out[0];
  }
  ~StdioRedirect() { restore(); }
  StdioRedirect(const StdioRedirect&) = delete;
  StdioRedirect& operator=(const StdioRedirect&) = delete;

  // Puts the original fds 0 and 1 back (once); the session keeps its own copies of the pipes.
  void restore() {
    if (!redirected_) return;
    redirected_ = false;
    put_back(saved_stdin_, 0);
    put_back(saved_stdout_, 1);
  }

  int stdin_writer = -1;   // what is written here, the session reads from its stdin
  int stdout_reader = -1;  // what the session writes to its stdout, read here

 private:
  // Makes `fd` what `saved` was (closed if it was closed: `saved` -1) and drops `saved`.
  static void put_back(int saved, int fd) {
    if (saved < 0) {
      ::close(fd);
      return;
    }
    ::dup2(saved, fd);
    ::close(saved);
  }

  bool redirected_ = true;
  int saved_stdin_ = -1;   // -1 when fd 0 was closed
  int saved_stdout_ = -1;  // -1 when fd 1 was closed
};

}  // namespace sockcat::in_process
