#include "sender_taps.hpp"

#include <algorithm>

#include "endpoint.hpp"

namespace sockcat {

RelayTap& SenderTaps::of(const sockaddr* address, std::size_t length) {
  std::string key(reinterpret_cast<const char*>(address), length);
  auto found = senders_.find(key);
  if (found == senders_.end()) {
    if (senders_.size() >= limit) {
      auto quietest = std::min_element(senders_.begin(), senders_.end(), [](const auto& a, const auto& b) {
        return a.second.last_heard < b.second.last_heard;
      });
      senders_.erase(quietest);  // its tap prints its --stats line as it goes
    }
    found = senders_.emplace(std::move(key), Sender{server_->client(format_socket_address(address, length)), 0}).first;
  }
  found->second.last_heard = ++heard_;
  return *found->second.tap;
}

void SenderTaps::show(DatagramBatch& batch, std::size_t first, std::size_t count, Direction direction) {
  for (std::size_t i = first; i < first + count; ++i)
    of(batch.sender(i), batch.sender_length(i)).crossed(direction, batch.payload(i));
}

}  // namespace sockcat
