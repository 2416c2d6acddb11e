// Child processes that a connection is handed to (-e/-c): started with posix_spawn, waited for
// through a pidfd on the io_context (no SIGCHLD handler, no polling loop), always reaped, and
// ended with the server.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <chrono>
#include <string>
#include <sys/types.h>
#include <vector>

namespace sockcat {

// One running child, in a process group of its own (so that ending it ends what it spawned).
class ChildProcess {
 public:
  // Starts `path` with `argv` (argv[0] included) and `environment` ("NAME=value" entries).
  // `connection` becomes the child's fds 0 and 1; fd 2 stays ours; every other descriptor is
  // closed in the child, and SIGPIPE, which sockcat ignores, is default again there. The
  // caller keeps `connection` and may close it at once. Throws std::system_error naming
  // the program when it cannot be started (then no child exists).
  ChildProcess(const asio::any_io_executor& executor, const std::string& path, const std::vector<std::string>& argv,
               const std::vector<std::string>& environment, int connection);

  // The same with `input` as the child's fd 0 and `output` as its fd 1 (the ends of two
  // pipes that sockcat pumps, when it must see or change the bytes).
  ChildProcess(const asio::any_io_executor& executor, const std::string& path, const std::vector<std::string>& argv,
               const std::vector<std::string>& environment, int input, int output);

  // A child not reaped yet (only after a failure elsewhere) is killed with SIGKILL, with its
  // process group, and reaped; never throws.
  ~ChildProcess();

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The child's process ID (also its process group ID).
  pid_t pid() const { return pid_; }

  // Waits without blocking the thread until the child has exited, reaps it and returns its
  // wait status (as waitpid reports it; -1 when someone else reaped it).
  asio::awaitable<int> wait();

  // Asks the child and its process group to end (SIGTERM), unless it has been reaped already.
  void terminate();

  // Ends every child not yet reaped: SIGTERM to each one's process group, up to `grace` for
  // them to exit, then SIGKILL to the groups of those still running; reaps them all. For the
  // end of the program, once the io_context has stopped. Never throws.
  static void end_all(std::chrono::milliseconds grace);

 private:
  // Reaps the child if it has exited (without waiting unless `block`); true once reaped.
  bool reap(bool block);

  pid_t pid_ = -1;
  asio::posix::stream_descriptor exited_;  // the child's pidfd: readable once it has exited
  bool reaped_ = false;
  int status_ = -1;  // its wait status, once reaped
};

// "exited with status N" or "killed by signal N (SIGTERM)", for -v lines.
std::string describe_wait_status(int status);

}  // namespace sockcat
