#include "stdio.hpp"

#include <cerrno>
#include <fcntl.h>
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

asio::posix::stream_descriptor open_null_sink(const asio::any_io_executor& executor) {
  int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (fd == -1) throw std::system_error(errno, std::generic_category(), "cannot open /dev/null");
  return asio::posix::stream_descriptor(executor, fd);
}

}  // namespace sockcat
