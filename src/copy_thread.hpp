// One direction of a relay moved on a thread of its own, with blocking system calls: the
// kernel then waits inside splice(2) for data and for buffer space, and keeps reading a
// socket while data goes on arriving, which moves bulk data with less CPU per byte than
// waiting for readiness in epoll (README, Performance). The event loop keeps everything
// else (timers, signals, the other direction's policies) and learns the end by a posted
// completion. Used only by a relay whose every running direction is zero-copy.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <cstdint>
#include <system_error>
#include <thread>
#include <vector>

#include "source_waits.hpp"
#include "zero_copy.hpp"

namespace sockcat {

// How a direction moved on a thread ended.
struct CopyOutcome {
  std::uint64_t bytes = 0;      // bytes that reached the sink
  std::error_code read_error;   // asio::error::eof at the source's end, operation_aborted after stop()
  std::error_code write_error;  // the sink failed
  bool reset_at_eof = false;    // at eof: the source, a socket, was reset (eof_was_reset) then
};

// A thread that runs one ZeroCopy until its source ends, a side fails, or stop() is called.
// Lives on the event loop's (single) thread; only the copy itself runs on the other one.
class CopyThread {
 public:
  explicit CopyThread(const asio::any_io_executor& executor);
  ~CopyThread();
  CopyThread(const CopyThread&) = delete;
  CopyThread& operator=(const CopyThread&) = delete;

  // Runs `copier` (made with Calls::blocking) from `source_fd` to `sink_fd` on the thread, or
  // read()/write() through a buffer of its own if the copier's path is buffered, and completes
  // when the thread has ended and been joined. With `waits`, the thread first
  // waits for the source to be readable (told to `waits`) before each step, so that a relay
  // can see an idle source. Call at most once.
  asio::awaitable<CopyOutcome> run(ZeroCopy& copier, int source_fd, int sink_fd, SourceWaits* waits);

  // Ends run() soon: the thread is interrupted in whatever call it waits in (a signal with a
  // handler that does nothing, sent again every few milliseconds until it has ended, since
  // one may land just before the call). Safe before, during and after run().
  void stop();

 private:
  // Ends the thread without the event loop, which is going away: interrupts it until it has
  // ended, and joins it. Nothing if no thread runs.
  void end_now();
  // The thread's body: blocking steps and waits until the end; fills outcome_.
  void copy(ZeroCopy& copier, int source_fd, int sink_fd, SourceWaits* waits);
  // One read() and the write()s it takes, for the buffered path.
  CopyStep copy_buffered(int source_fd, int sink_fd);
  // With `waits`: if the source has nothing now, waits until it has (told to `waits`); true if it waited.
  static bool waited_for_source(int source_fd, SourceWaits* waits);
  // Waits until `fd` is ready for `events` or a signal interrupts the wait.
  static void wait_for(int fd, short events);

  asio::any_io_executor executor_;
  asio::steady_timer wake_;             // what run() waits on: cancelled by the end and by stop()
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> finished_{false};   // the thread's copy is over (set by the thread)
  std::atomic<bool> abandoned_{false};  // the destructor ends the thread: post nothing
  bool end_seen_ = false;               // set on the event loop once the thread's end was posted
  CopyOutcome outcome_;                 // written by the thread, read after the join
  std::vector<char> buffer_;            // the buffered path's, allocated by the thread
  std::thread thread_;
};

}  // namespace sockcat
