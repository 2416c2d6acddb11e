// -o, -x and --stats on a datagram server (listen -u): a datagram's sender is its client, so
// each sender address gets a labelled tap of its own when its first datagram comes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <sys/socket.h>

#include "datagram_batch.hpp"
#include "relay_tap.hpp"

namespace sockcat {

// The taps of one datagram server's senders. A sender's tap lasts until the server ends (its
// --stats line comes then), except that at most `limit` are kept: the one heard from least
// recently is ended (its line printed) to make room for a new sender.
class SenderTaps {
 public:
  static constexpr std::size_t limit = 1024;

  explicit SenderTaps(std::shared_ptr<ServerTap> server) : server_(std::move(server)) {}

  // The tap of the sender at `address` (`length` bytes), made if it is new.
  RelayTap& of(const sockaddr* address, std::size_t length);

  // Shows datagrams [first, first + count) of `batch`'s last receive, which crossed in
  // `direction`, to their senders' taps.
  void show(DatagramBatch& batch, std::size_t first, std::size_t count, Direction direction);

 private:
  struct Sender {
    std::unique_ptr<RelayTap> tap;
    std::uint64_t last_heard = 0;  // `heard_` when it last had a datagram
  };
  std::shared_ptr<ServerTap> server_;
  std::map<std::string, Sender> senders_;  // by the bytes of the sender's address
  std::uint64_t heard_ = 0;
};

}  // namespace sockcat
