#include "stdio.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace sockcat {

StdioFlagsGuard::StdioFlagsGuard()
    : stdin_flags_(::fcntl(STDIN_FILENO, F_GETFL)), stdout_flags_(::fcntl(STDOUT_FILENO, F_GETFL)) {}

StdioFlagsGuard::~StdioFlagsGuard() {
  if (stdin_flags_ != -1) ::fcntl(STDIN_FILENO, F_SETFL, stdin_flags_);
  if (stdout_flags_ != -1) ::fcntl(STDOUT_FILENO, F_SETFL, stdout_flags_);
}

void open_missing_stdio() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1) continue;
    int opened = ::open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
    if (opened != -1 && opened != fd) {  // lower descriptors were open: move it into place
      ::dup2(opened, fd);
      ::close(opened);
    }
  }
}

asio::posix::stream_descriptor open_stdio(const asio::any_io_executor& executor, int fd) {
  asio::posix::stream_descriptor descriptor(executor);
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy >= 0) descriptor.assign(copy);
  return descriptor;
}

namespace {

// Whether descriptors `a` and `b` refer to the same file (a terminal or socket on both, say).
bool same_file(int a, int b) {
  struct stat first {}, second {};
  if (::fstat(a, &first) != 0 || ::fstat(b, &second) != 0) return false;
  return first.st_dev == second.st_dev && first.st_ino == second.st_ino;
}

}  // namespace

StdoutSink::StdoutSink(asio::posix::stream_descriptor descriptor, bool is_stdout)
    : asio::posix::stream_descriptor(std::move(descriptor)), is_stdout_(is_stdout && is_open()),
      flags_at_open_(is_stdout_ ? ::fcntl(native_handle(), F_GETFL) : -1) {}

void StdoutSink::close(std::error_code& ec) {
  bool release_stdout = is_stdout_ && is_open();
  if (release_stdout && flags_at_open_ != -1 && !same_file(STDIN_FILENO, STDOUT_FILENO))
    ::fcntl(native_handle(), F_SETFL, flags_at_open_);
  asio::posix::stream_descriptor::close(ec);
  if (!release_stdout) return;
  is_stdout_ = false;
  int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null == -1) return;  // stdout stays open until exit rather than leave fd 1 free for reuse
  ::dup2(null, STDOUT_FILENO);
  ::close(null);
}

bool stdin_is_background_terminal() {
  if (!::isatty(STDIN_FILENO)) return false;
  pid_t foreground = ::tcgetpgrp(STDIN_FILENO);
  return foreground != -1 && foreground != ::getpgrp();
}

asio::posix::stream_descriptor open_null_sink(const asio::any_io_executor& executor) {
  int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (fd == -1) throw std::system_error(errno, std::generic_category(), "cannot open /dev/null");
  return asio::posix::stream_descriptor(executor, fd);
}

}  // namespace sockcat
