#include "datagram_batch.hpp"

#include <asio/error.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <netinet/in.h>
#include <netinet/udp.h>

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

std::size_t DatagramBatch::receive_records(int fd, std::size_t first, std::size_t max_length, bool& ended) {
  if (first >= capacity) return 0;
  for (std::size_t i = first; i < capacity; ++i) set_length(i, std::min(max_length, slot_size));
  int received = ::recvmmsg(fd, messages_.data() + first, static_cast<unsigned>(capacity - first), MSG_DONTWAIT, nullptr);
  std::size_t filled = 0;
  for (; received > 0 && filled < static_cast<std::size_t>(received); ++filled) {
    std::size_t i = first + filled;
    if (messages_[i].msg_len == 0) {
      ended = true;
      break;
    }
    set_length(i, messages_[i].msg_len);
  }
  return filled;
}

namespace {

// The most payload one UDP/IPv4 datagram, and so one segmented message, can carry.
constexpr std::size_t max_run_bytes = 65507;
// The most datagrams the kernel cuts one message into (UDP_MAX_SEGMENTS in older kernels).
constexpr std::size_t max_run_slots = 64;
// Room for one control message carrying a 16-bit segment size.
constexpr std::size_t control_size = CMSG_SPACE(sizeof(std::uint16_t));

}  // namespace

std::size_t DatagramBatch::send_connected(int fd, std::size_t first, std::size_t count, std::error_code& ec) {
  if (fd != checked_fd_) {
    // Only UDP cuts a message into datagrams; other datagram sockets (AF_UNIX) would ignore the
    // control message and send the run as one datagram.
    int protocol = 0;
    socklen_t length = sizeof protocol;
    segmenting_ = ::getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &length) == 0 && protocol == IPPROTO_UDP;
    checked_fd_ = fd;
  }
  if (!segmenting_) return send(fd, first, count, ec);
  runs_.resize(capacity);
  run_lengths_.resize(capacity);
  run_controls_.assign(capacity * control_size, 0);
  // A run: datagrams of one size, optionally ended by one shorter, non-empty datagram (an empty
  // one has no segment to be cut into, so it always goes alone).
  std::size_t runs = 0;
  for (std::size_t i = first; i < first + count; ++runs) {
    const std::size_t size = messages_[i].msg_len;
    std::size_t end = i + 1;
    std::size_t bytes = size;
    // Slots set with set_length() are in storage order, so a run's iovecs are consecutive.
    auto in_order = [&](std::size_t k) { return messages_[k].msg_hdr.msg_iov == &vectors_[k]; };
    while (size > 0 && in_order(i) && end < first + count && in_order(end) && end - i < max_run_slots && messages_[end].msg_len <= size && messages_[end].msg_len > 0 &&
           bytes + messages_[end].msg_len <= max_run_bytes) {
      bytes += messages_[end].msg_len;
      if (messages_[end++].msg_len < size) break;
    }
    mmsghdr& run = runs_[runs];
    run = mmsghdr{};
    run.msg_hdr.msg_iov = &vectors_[i];
    run.msg_hdr.msg_iovlen = end - i;
    if (end - i > 1) {
      char* control = run_controls_.data() + runs * control_size;
      run.msg_hdr.msg_control = control;
      run.msg_hdr.msg_controllen = control_size;
      cmsghdr* header = CMSG_FIRSTHDR(&run.msg_hdr);
      header->cmsg_level = SOL_UDP;
      header->cmsg_type = UDP_SEGMENT;
      header->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
      const auto segment = static_cast<std::uint16_t>(size);
      std::memcpy(CMSG_DATA(header), &segment, sizeof segment);
    }
    run_lengths_[runs] = end - i;
    i = end;
  }
  int sent = ::sendmmsg(fd, runs_.data(), static_cast<unsigned>(runs), MSG_DONTWAIT);
  if (sent < 0) {
    // EINVAL, EIO, ENOPROTOOPT: no segmentation here (old kernel, a path MTU below the
    // segment size); send these and the rest one datagram per message.
    if (errno == EINVAL || errno == EIO || errno == ENOPROTOOPT || errno == EOPNOTSUPP) {
      segmenting_ = false;
      return send(fd, first, count, ec);
    }
    ec = std::error_code(errno, asio::error::get_system_category());
    return 0;
  }
  ec.clear();
  std::size_t datagrams = 0;
  for (int r = 0; r < sent; ++r) datagrams += run_lengths_[static_cast<std::size_t>(r)];
  return datagrams;
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
