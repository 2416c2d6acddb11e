#include "copy_thread.hpp"

#include <asio/error.hpp>
#include <asio/post.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <mutex>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include "pump.hpp"
#include "socket_state.hpp"
#include "system_error.hpp"
#include "with_error.hpp"

namespace sockcat {
namespace {

// The signal that interrupts a copy thread's call. SIGURG is ignored by default and only
// sent for out-of-band data to a socket owner, which sockcat never sets (F_SETOWN).
constexpr int interrupt_signal = SIGURG;

// How often stop() interrupts a thread that has not ended yet.
constexpr std::chrono::milliseconds interrupt_interval{2};

// Installs a handler that does nothing, without SA_RESTART, so that a blocked call returns EINTR.
void install_interrupt_handler() {
  static std::once_flag installed;
  std::call_once(installed, [] {
    struct sigaction action {};
    action.sa_handler = [](int) {};
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    ::sigaction(interrupt_signal, &action, nullptr);
  });
}

}  // namespace

CopyThread::CopyThread(const asio::any_io_executor& executor)
    : executor_(executor), wake_(executor, std::chrono::steady_clock::time_point::max()) {
  install_interrupt_handler();
}

CopyThread::~CopyThread() { end_now(); }

void CopyThread::end_now() {
  if (!thread_.joinable()) return;  // not started, or run() has joined it
  abandoned_.store(true);
  stop_requested_.store(true);
  while (!finished_.load()) {
    ::pthread_kill(thread_.native_handle(), interrupt_signal);
    std::this_thread::sleep_for(interrupt_interval);  // a signal may land just before a call
  }
  thread_.join();
}

void CopyThread::wait_for(int fd, short events) {
  pollfd watched{fd, events, 0};
  ::poll(&watched, 1, -1);  // EINTR and errors alike: the caller looks at the stop flag and steps
}

bool CopyThread::waited_for_source(int source_fd, SourceWaits* waits) {
  if (!waits) return false;
  pollfd source{source_fd, POLLIN, 0};
  if (::poll(&source, 1, 0) != 0) return false;
  waits->begin();
  wait_for(source_fd, POLLIN);
  waits->end();
  return true;
}

CopyStep CopyThread::copy_buffered(int source_fd, int sink_fd) {
  CopyStep step;
  if (buffer_.empty()) buffer_.resize(relay_buffer_size);  // the event loop's buffer size
  ssize_t n = ::read(source_fd, buffer_.data(), buffer_.size());
  if (n == 0) step.source_ended = true;
  else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) step.wait_source = true;
  else if (n < 0 && errno != EINTR) step.read_error = last_system_error();
  if (n <= 0) return step;
  for (std::size_t done = 0; done < static_cast<std::size_t>(n);) {
    ssize_t w = ::write(sink_fd, buffer_.data() + done, static_cast<std::size_t>(n) - done);
    if (w > 0) {
      done += static_cast<std::size_t>(w);
      step.bytes += static_cast<std::size_t>(w);
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      wait_for(sink_fd, POLLOUT);
    } else if (w < 0 && errno == EINTR) {
      if (stop_requested_.load()) {  // the sink is being given up: what is unwritten goes with it
        step.read_error = asio::error::operation_aborted;
        return step;
      }
    } else {
      step.write_error = last_system_error();
      return step;
    }
  }
  return step;
}

void CopyThread::copy(ZeroCopy& copier, int source_fd, int sink_fd, SourceWaits* waits) {
  const bool buffered = copier.path() == CopyPath::buffered;
  while (!stop_requested_.load()) {
    if (waited_for_source(source_fd, waits)) continue;
    CopyStep step = buffered ? copy_buffered(source_fd, sink_fd) : copier.step();
    outcome_.bytes += step.bytes;
    if (step.read_error || step.write_error) {
      outcome_.read_error = step.read_error;
      outcome_.write_error = step.write_error;
      return;
    }
    if (step.source_ended) {
      outcome_.read_error = asio::error::eof;
      outcome_.reset_at_eof = eof_was_reset(source_fd);  // now, before a send of ours draws one
      return;
    }
    if (step.wait_source) wait_for(source_fd, POLLIN);
    else if (step.wait_sink) wait_for(sink_fd, POLLOUT);
  }
  outcome_.read_error = asio::error::operation_aborted;
}

asio::awaitable<CopyOutcome> CopyThread::run(ZeroCopy& copier, int source_fd, int sink_fd, SourceWaits* waits) {
  thread_ = std::thread([this, &copier, source_fd, sink_fd, waits] {
    copy(copier, source_fd, sink_fd, waits);
    finished_.store(true);
    if (abandoned_.load()) return;  // nobody waits on the loop
    asio::post(executor_, [this] {
      end_seen_ = true;
      wake_.cancel();
    });
  });
  // If the loop goes away with this frame waiting (SIGINT stops it, say), the frame is destroyed
  // unfinished: the thread must end before the copier and descriptors it uses go.
  struct EndAtExit {
    CopyThread& owner;
    ~EndAtExit() { owner.end_now(); }
  } end_at_exit{*this};
  while (!end_seen_) {
    wake_.expires_at(stop_requested_.load() ? std::chrono::steady_clock::now() + interrupt_interval
                                            : std::chrono::steady_clock::time_point::max());
    co_await wake_.async_wait(with_error);
    if (!end_seen_ && stop_requested_.load()) ::pthread_kill(thread_.native_handle(), interrupt_signal);
  }
  thread_.join();
  co_return outcome_;
}

void CopyThread::stop() {
  stop_requested_.store(true);
  wake_.cancel();
}

}  // namespace sockcat
