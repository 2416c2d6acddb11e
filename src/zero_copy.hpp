// Moving bytes between two descriptors without copying them through user space: splice(2)
// when one side is a pipe, splice through a private pipe from a socket to a file or /dev/null,
// and sendfile(2) from a regular file to a socket. The relay picks one per direction and falls
// back to read/write (a user-space buffer) for anything else: terminals, socket to socket.
#pragma once

#include <cstddef>
#include <system_error>

namespace sockcat {

// How bytes go from one descriptor to another.
enum class CopyPath {
  buffered,          // read() into a buffer, write() it out
  splice,            // splice() directly: one side is a pipe, the other a socket
  splice_via_pipe,   // splice() into a private pipe, then out of it: socket -> file, /dev/null
  sendfile,          // sendfile() from a regular file to a socket
};

// Picks the cheapest path from `source_fd` to `sink_fd` by their file types.
CopyPath choose_copy_path(int source_fd, int sink_fd);

// The name of a path, for -v output ("splice", "sendfile", ...).
const char* copy_path_name(CopyPath path);

// Whether a transfer's system calls may wait.
enum class Calls {
  non_blocking,  // never wait: the caller waits for readiness on its event loop
  blocking,      // wait inside the kernel (a thread of its own, copy_thread.hpp)
};

// What one transfer step did.
struct CopyStep {
  std::size_t bytes = 0;      // bytes that reached the sink
  bool source_ended = false;  // the source is at EOF and nothing is left in between
  bool wait_source = false;   // no progress: wait until the source is readable
  bool wait_sink = false;     // no progress: wait until the sink is writable
  // No flag and no bytes: a blocking call was interrupted by a signal; try again.
  std::error_code read_error;   // the source failed
  std::error_code write_error;  // the sink failed
};

// One direction's zero-copy transfer between two descriptors it does not own. With
// Calls::non_blocking it never blocks: both descriptors must be non-blocking (or never block,
// like regular files). With Calls::blocking a step waits in the kernel as long as the
// descriptors' own modes say (a non-blocking one still reports wait_source/wait_sink).
class ZeroCopy {
 public:
  // Picks the path for `source_fd` -> `sink_fd`; for splice_via_pipe opens the private pipe,
  // and falls back to buffered if it cannot. With `sockets_too`, a socket to a socket goes
  // through the private pipe as well (a forwarder's bulk; choose_copy_path copies it).
  ZeroCopy(int source_fd, int sink_fd, Calls calls = Calls::non_blocking, bool sockets_too = false);
  ~ZeroCopy();
  ZeroCopy(const ZeroCopy&) = delete;
  ZeroCopy& operator=(const ZeroCopy&) = delete;

  // The path in use; buffered means the caller must copy through a buffer itself.
  CopyPath path() const { return path_; }

  // Moves what it can right now, up to about one megabyte.
  CopyStep step();

 private:
  // Sorts a failed splice's errno into a read or a write error.
  void record_failure(CopyStep& step) const;

  int source_;
  int sink_;
  bool source_is_socket_;
  CopyPath path_;
  unsigned splice_flags_;    // SPLICE_F_MOVE, with SPLICE_F_NONBLOCK unless Calls::blocking
  int pipe_read_ = -1;       // splice_via_pipe: the private pipe's ends
  int pipe_write_ = -1;
  std::size_t in_pipe_ = 0;  // bytes spliced into the private pipe and not yet out of it
};

}  // namespace sockcat
