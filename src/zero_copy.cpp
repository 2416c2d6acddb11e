#include "zero_copy.hpp"

#include <asio/error.hpp>

#include <cerrno>
#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "system_error.hpp"

namespace sockcat {
namespace {

// Bytes moved by one system call at most: large enough to amortise it, small enough to let
// the other direction run in between.
constexpr std::size_t step_size = 1 << 20;

enum class Kind { pipe, socket, file, null_device, other };

Kind kind_of(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Kind::other;
  if (S_ISFIFO(st.st_mode)) return Kind::pipe;
  if (S_ISSOCK(st.st_mode)) return Kind::socket;
  if (S_ISREG(st.st_mode)) return Kind::file;
  struct stat null_st {};
  if (S_ISCHR(st.st_mode) && ::stat("/dev/null", &null_st) == 0 && st.st_rdev == null_st.st_rdev)
    return Kind::null_device;
  return Kind::other;
}

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

// After a splice() that could not proceed, tells which side to wait for.
void which_side_blocks(int source_fd, int sink_fd, CopyStep& step) {
  pollfd fds[2] = {{source_fd, POLLIN, 0}, {sink_fd, POLLOUT, 0}};
  ::poll(fds, 2, 0);
  if (!(fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) step.wait_sink = true;
  else step.wait_source = true;
}

}  // namespace

CopyPath choose_copy_path(int source_fd, int sink_fd) {
  Kind source = kind_of(source_fd);
  Kind sink = kind_of(sink_fd);
  if ((source == Kind::pipe && sink == Kind::socket) || (source == Kind::socket && sink == Kind::pipe))
    return CopyPath::splice;
  // splice() cannot write to a file opened for appending (">>").
  bool appending = sink == Kind::file && (::fcntl(sink_fd, F_GETFL) & O_APPEND);
  if (source == Kind::socket && ((sink == Kind::file && !appending) || sink == Kind::null_device))
    return CopyPath::splice_via_pipe;
  if (source == Kind::file && sink == Kind::socket) return CopyPath::sendfile;
  return CopyPath::buffered;
}

const char* copy_path_name(CopyPath path) {
  switch (path) {
    case CopyPath::buffered: return "read/write";
    case CopyPath::splice: return "splice";
    case CopyPath::splice_via_pipe: return "splice through a pipe";
    case CopyPath::sendfile: return "sendfile";
  }
  return "?";
}

ZeroCopy::ZeroCopy(int source_fd, int sink_fd, Calls calls, bool sockets_too)
    : source_(source_fd),
      sink_(sink_fd),
      source_is_socket_(kind_of(source_fd) == Kind::socket),
      path_(sockets_too && source_is_socket_ && kind_of(sink_fd) == Kind::socket ? CopyPath::splice_via_pipe
                                                                                  : choose_copy_path(source_fd, sink_fd)),
      splice_flags_(calls == Calls::blocking ? SPLICE_F_MOVE : SPLICE_F_MOVE | SPLICE_F_NONBLOCK) {
  if (path_ == CopyPath::splice) {
    // A bigger pipe means fewer, larger splices; the pipe's size is ours to ask for either way.
    ::fcntl(kind_of(source_fd) == Kind::pipe ? source_fd : sink_fd, F_SETPIPE_SZ, static_cast<int>(step_size));
    // A blocking splice between a socket and a pipe holds the pipe's lock while it waits for
    // the socket, and the process at the pipe's other end would wait for that lock, unkillable,
    // even for bytes already in the pipe. Through a private pipe only our own pipe is held.
    if (calls == Calls::blocking) path_ = CopyPath::splice_via_pipe;
  }
  if (path_ != CopyPath::splice_via_pipe) return;
  // A non-blocking pipe would make the kernel read the socket without waiting, too.
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC | (calls == Calls::blocking ? 0 : O_NONBLOCK)) != 0) {
    path_ = CopyPath::buffered;
    return;
  }
  pipe_read_ = ends[0];
  pipe_write_ = ends[1];
  ::fcntl(pipe_write_, F_SETPIPE_SZ, static_cast<int>(step_size));  // best effort
}

ZeroCopy::~ZeroCopy() {
  if (pipe_read_ != -1) ::close(pipe_read_);
  if (pipe_write_ != -1) ::close(pipe_write_);
}

void ZeroCopy::record_failure(CopyStep& step) const {
  std::error_code ec = last_system_error();
  // EPIPE: the sink's reader is gone. ECONNRESET and the rest: the socket end failed.
  bool sink_failed = errno == EPIPE || !source_is_socket_;
  (sink_failed ? step.write_error : step.read_error) = ec;
}

CopyStep ZeroCopy::step() {
  const unsigned flags = splice_flags_;
  CopyStep step;
  switch (path_) {
    case CopyPath::splice: {
      ssize_t n = ::splice(source_, nullptr, sink_, nullptr, step_size, flags);
      if (n > 0) step.bytes = static_cast<std::size_t>(n);
      else if (n == 0) step.source_ended = true;
      else if (would_block(errno)) which_side_blocks(source_, sink_, step);
      else if (errno != EINTR) record_failure(step);
      return step;
    }
    case CopyPath::sendfile: {
      ssize_t n = ::sendfile(sink_, source_, nullptr, step_size);
      if (n > 0) step.bytes = static_cast<std::size_t>(n);
      else if (n == 0) step.source_ended = true;
      else if (would_block(errno)) step.wait_sink = true;
      else if (errno != EINTR) step.write_error = last_system_error();
      return step;
    }
    case CopyPath::splice_via_pipe: {
      if (in_pipe_ == 0) {
        ssize_t in = ::splice(source_, nullptr, pipe_write_, nullptr, step_size, flags);
        if (in == 0) step.source_ended = true;
        else if (in < 0 && would_block(errno)) step.wait_source = true;
        else if (in < 0 && errno != EINTR) step.read_error = last_system_error();
        if (in <= 0) return step;
        in_pipe_ = static_cast<std::size_t>(in);
      }
      // A file or /dev/null takes it all without waiting; a socket or pipe (Calls::blocking)
      // may make us wait, or refuse for now if it is non-blocking: the rest goes next step.
      while (in_pipe_ > 0) {
        ssize_t out = ::splice(pipe_read_, nullptr, sink_, nullptr, in_pipe_, flags);
        if (out < 0 && errno == EINTR) return step;
        if (out < 0 && would_block(errno)) {
          step.wait_sink = true;
          return step;
        }
        if (out <= 0) {
          step.write_error = out == 0 ? std::make_error_code(std::errc::io_error) : last_system_error();
          return step;
        }
        in_pipe_ -= static_cast<std::size_t>(out);
        step.bytes += static_cast<std::size_t>(out);
      }
      return step;
    }
    case CopyPath::buffered:
      break;
  }
  step.read_error = std::make_error_code(std::errc::operation_not_supported);
  return step;
}

}  // namespace sockcat
