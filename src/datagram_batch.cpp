#include "datagram_batch.hpp"

#include <asio/error.hpp>
#include <algorithm>
#include <cerrno>

namespace sockcat {

DatagramBatch::DatagramBatch()
    : storage_(capacity * slot_size), messages_(capacity), vectors_(capacity), addresses_(capacity) {}

std::size_t DatagramBatch::receive(int fd, std::error_code& ec) {
  for (std::size_t i = 0; i < capacity; ++i) {
    vectors_[i] = iovec{storage_.data() + i * slot_size, slot_size};
    messages_[i] = mmsghdr{};
    messages_[i].msg_hdr.msg_name = &addresses_[i];
    messages_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    messages_[i].msg_hdr.msg_iov = &vectors_[i];
    messages_[i].msg_hdr.msg_iovlen = 1;
  }
  int received = ::recvmmsg(fd, messages_.data(), capacity, MSG_DONTWAIT, nullptr);
  if (received < 0) {
    ec = std::error_code(errno, asio::error::get_system_category());
    return 0;
  }
  ec.clear();
  return static_cast<std::size_t>(received);
}

// Each message points at its own slot, iovec and address, so keep_if() may reorder messages.
std::span<char> DatagramBatch::payload(std::size_t i) {
  return {static_cast<char*>(messages_[i].msg_hdr.msg_iov->iov_base), messages_[i].msg_len};
}

const sockaddr* DatagramBatch::sender(std::size_t i) const {
  return static_cast<const sockaddr*>(messages_[i].msg_hdr.msg_name);
}

std::size_t DatagramBatch::keep_if(std::size_t count, const std::function<bool(const sockaddr* sender)>& keep) {
  std::size_t kept = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (!keep(sender(i))) continue;
    if (kept != i) std::swap(messages_[kept], messages_[i]);
    ++kept;
  }
  return kept;
}

socklen_t DatagramBatch::sender_length(std::size_t i) const { return messages_[i].msg_hdr.msg_namelen; }

std::size_t DatagramBatch::send_replies(int fd, std::size_t first, std::size_t count, std::error_code& ec) {
  for (std::size_t i = first; i < first + count; ++i) messages_[i].msg_hdr.msg_iov->iov_len = messages_[i].msg_len;
  return send(fd, first, count, ec);
}

std::span<char> DatagramBatch::slot(std::size_t i) { return {storage_.data() + i * slot_size, slot_size}; }

void DatagramBatch::set_length(std::size_t i, std::size_t length) {
  vectors_[i] = iovec{storage_.data() + i * slot_size, length};
  messages_[i] = mmsghdr{};
  messages_[i].msg_hdr.msg_iov = &vectors_[i];
  messages_[i].msg_hdr.msg_iovlen = 1;
  messages_[i].msg_len = static_cast<unsigned>(length);
}

std::size_t DatagramBatch::send_connected(int fd, std::size_t first, std::size_t count, std::error_code& ec) {
  return send(fd, first, count, ec);
}

std::size_t DatagramBatch::send(int fd, std::size_t first, std::size_t count, std::error_code& ec) {
  int sent = ::sendmmsg(fd, messages_.data() + first, static_cast<unsigned>(count), MSG_DONTWAIT);
  if (sent < 0) {
    ec = std::error_code(errno, asio::error::get_system_category());
    return 0;
  }
  ec.clear();
  return static_cast<std::size_t>(sent);
}

}  // namespace sockcat
