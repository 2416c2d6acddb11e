// Datagrams by the batch: one recvmmsg(2) fills up to `capacity` slots, one sendmmsg(2) sends
// them back out, each to its own address. Cuts the system calls per datagram on busy sockets.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <sys/socket.h>
#include <system_error>
#include <vector>

namespace sockcat {

// A fixed set of slots, each large enough for any UDP payload (so nothing is truncated).
class DatagramBatch {
 public:
  // Slots in one batch: enough to amortise the system call, small enough to stay fair.
  static constexpr std::size_t capacity = 16;
  // Bytes per slot: more than the largest UDP payload.
  static constexpr std::size_t slot_size = 64 * 1024;

  DatagramBatch();

  // Receives what is queued on `fd` without waiting, up to capacity datagrams; returns how many
  // (0 with would_block set in `ec` when none was queued).
  std::size_t receive(int fd, std::error_code& ec);

  // Datagram `i` of the last receive: its bytes (writable, for transforms in place).
  std::span<char> payload(std::size_t i);

  // The sender of datagram `i` of the last receive.
  const sockaddr* sender(std::size_t i) const;
  socklen_t sender_length(std::size_t i) const;

  // Keeps, of the first `count` datagrams of the last receive, those whose sender `keep`
  // accepts, moved to the front in their order; returns how many were kept.
  std::size_t keep_if(std::size_t count, const std::function<bool(const sockaddr* sender)>& keep);

  // Sends datagrams [first, first + count) of the last receive back to their senders (after
  // payload() edits, same lengths) without waiting. Returns how many went; on a failure of the
  // first one sets `ec` (would_block when the socket buffer is full).
  std::size_t send_replies(int fd, std::size_t first, std::size_t count, std::error_code& ec);

  // Slot `i`'s whole storage, to fill with an outgoing datagram before set_length().
  std::span<char> slot(std::size_t i);

  // Makes slot `i` an outgoing datagram of `length` bytes for a connected socket.
  void set_length(std::size_t i, std::size_t length);

  // Fills slots [first, capacity) with the records already queued on socket `fd` (a
  // SOCK_SEQPACKET or SOCK_DGRAM stdin), one record per slot and at most `max_length` bytes
  // each, without waiting, ready for send_connected(). Returns how many slots it filled. An
  // empty record is the end of the input: it sets `ended` and is not counted. Errors are left
  // for the caller's next read to report.
  std::size_t receive_records(int fd, std::size_t first, std::size_t max_length, bool& ended);

  // Sends slots [first, first + count) set with set_length() on connected UDP socket `fd`,
  // without waiting; returns how many datagrams went, as send_replies does. Runs of equal-sized
  // datagrams go as one message that the kernel cuts back into those datagrams (UDP GSO,
  // UDP_SEGMENT), so the stack is walked once per run; on other sockets, or where the kernel
  // or the path refuses that, it sends one message per datagram (for good, once refused).
  // Either way each slot leaves as exactly one datagram.
  std::size_t send_connected(int fd, std::size_t first, std::size_t count, std::error_code& ec);

 private:
  // sendmmsg() of messages [first, first + count) as they are set up.
  std::size_t send(int fd, std::size_t first, std::size_t count, std::error_code& ec);

  std::vector<char> storage_;
  std::vector<mmsghdr> messages_;
  std::vector<iovec> vectors_;
  std::vector<sockaddr_storage> addresses_;
  int checked_fd_ = -1;                    // the socket segmenting_ was decided for
  bool segmenting_ = false;                // send_connected may use UDP GSO on checked_fd_
  std::vector<mmsghdr> runs_;              // send_connected: one message per run of slots
  std::vector<std::size_t> run_lengths_;   // slots in each of runs_
  std::vector<char> run_controls_;         // each run's UDP_SEGMENT control message
};

}  // namespace sockcat
