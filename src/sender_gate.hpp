// What the datagram servers (listen -u) share about senders: the --allow/--deny check, which
// drops refused senders' datagrams unread, and notes said once per sender under -v.
#pragma once

#include <algorithm>
#include <array>
#include <asio/ip/udp.hpp>
#include <cstddef>

#include "access_list.hpp"
#include "datagram_batch.hpp"
#include "diag.hpp"
#include "endpoint.hpp"
#include "socket_types.hpp"

namespace sockcat {

// The --allow/--deny check on datagrams: refused senders' datagrams are dropped unread, and
// each refused sender is noted once under -v while it is among the last `remembered` noted.
class SenderGate {
 public:
  explicit SenderGate(const AccessList& access) : access_(access) {}

  // Drops from the first `count` datagrams of `batch`'s last receive those of refused senders;
  // returns how many are left (at the front, in order).
  std::size_t filter(DatagramBatch& batch, std::size_t count) {
    if (access_.empty()) return count;
    return batch.keep_if(count, [this](const sockaddr* sender) { return admits(sender); });
  }

  // True when the list admits one datagram's `sender`; a refused one is noted (see above).
  // The check for code that receives datagrams one at a time.
  bool admits(const sockaddr* sender) {
    if (access_.admits(sender)) return true;
    if (diag::verbosity() < 1) return false;
    asio::ip::udp::endpoint endpoint =
        ip_endpoint_of<asio::ip::udp>(sender, sender->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
    if (std::find(noted_.begin(), noted_.end(), endpoint) != noted_.end()) return false;
    noted_[next_++ % remembered] = endpoint;
    diag::info(1, "datagrams from " + format_endpoint(endpoint) + " refused: not allowed (--allow/--deny)");
    return false;
  }

 private:
  static constexpr std::size_t remembered = 64;

  const AccessList& access_;
  std::array<asio::ip::udp::endpoint, remembered> noted_{};
  std::size_t next_ = 0;
};

// Says something about a sender under -v at most once while it is among the last
// `remembered` senders noted, so that a sender whose datagrams are all dropped costs one line.
class NoteOnce {
 public:
  // Prints `text` under -v unless `sender` was noted recently.
  void note(const DatagramSocket::endpoint_type& sender, const std::string& text) {
    if (diag::verbosity() < 1 || std::find(noted_.begin(), noted_.end(), sender) != noted_.end()) return;
    noted_[next_++ % remembered] = sender;
    diag::info(1, text);
  }

 private:
  static constexpr std::size_t remembered = 64;
  std::array<DatagramSocket::endpoint_type, remembered> noted_{};
  std::size_t next_ = 0;
};

}  // namespace sockcat
