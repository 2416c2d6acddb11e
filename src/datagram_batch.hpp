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

  // Sends slots [first, first + count) set with set_length() on connected socket `fd`, without
  // waiting; returns how many went, as send_replies does. One message per datagram: UDP GSO
  // (UDP_SEGMENT) was tried and dropped, because the kernel counts a segmented run as one
  // datagram sent (OutDatagrams), so counters and the benchmark lose track of what left.
  std::size_t send_connected(int fd, std::size_t first, std::size_t count, std::error_code& ec);

 private:
  // sendmmsg() of messages [first, first + count) as they are set up.
  std::size_t send(int fd, std::size_t first, std::size_t count, std::error_code& ec);

  std::vector<char> storage_;
  std::vector<mmsghdr> messages_;
  std::vector<iovec> vectors_;
  std::vector<sockaddr_storage> addresses_;
};

}  // namespace sockcat
