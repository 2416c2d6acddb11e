// DatagramBatch: datagrams in and out by the batch, boundaries and senders kept.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include "datagram_batch.hpp"
#include "system_error.hpp"

using namespace sockcat;

namespace {

// A UDP socket bound to an ephemeral port on 127.0.0.1, closed at scope exit.
struct UdpSocket {
  int fd;
  sockaddr_in address{};
  UdpSocket() {
    fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    int room = 4 << 20;  // room for every datagram a test sends before it reads any
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &room, sizeof room);
  }
  ~UdpSocket() { ::close(fd); }
  void send_to(const UdpSocket& to, const std::string& data) const {
    REQUIRE(::sendto(fd, data.data(), data.size(), 0, reinterpret_cast<const sockaddr*>(&to.address),
                     sizeof to.address) == static_cast<ssize_t>(data.size()));
  }
  std::string receive() const {
    std::string data(70000, '\0');
    ssize_t n = ::recv(fd, data.data(), data.size(), MSG_DONTWAIT);
    REQUIRE(n >= 0);
    data.resize(static_cast<std::size_t>(n));
    return data;
  }
};

std::string datagram(std::size_t i) {
  if (i == 3) return "";                      // empty datagrams are datagrams too
  if (i == 5) return std::string(65507, 'x');  // the largest UDP/IPv4 payload
  return "datagram " + std::to_string(i) + std::string(i * 37, static_cast<char>('a' + i));
}

}  // namespace

TEST_CASE("DatagramBatch receives up to its capacity, keeping each datagram and sender") {
  UdpSocket server, client_a, client_b;
  const std::size_t total = DatagramBatch::capacity + 4;
  for (std::size_t i = 0; i < total; ++i) (i % 2 ? client_b : client_a).send_to(server, datagram(i));

  DatagramBatch batch;
  std::error_code ec;
  std::size_t first = batch.receive(server.fd, ec);
  REQUIRE_FALSE(ec);
  REQUIRE(first == DatagramBatch::capacity);
  for (std::size_t i = 0; i < first; ++i) {
    std::span<char> payload = batch.payload(i);
    CHECK(std::string(payload.data(), payload.size()) == datagram(i));
    const auto* from = reinterpret_cast<const sockaddr_in*>(batch.sender(i));
    CHECK(from->sin_port == (i % 2 ? client_b : client_a).address.sin_port);
  }
  // Replies go back to each sender, one datagram each.
  for (std::size_t i = 0; i < first; ++i) std::memset(batch.payload(i).data(), 'R', batch.payload(i).size());
  std::size_t sent = 0;
  while (sent < first) {
    sent += batch.send_replies(server.fd, sent, first - sent, ec);
    REQUIRE_FALSE(ec);
  }
  for (std::size_t i = 0; i < first; ++i) {
    std::string reply = (i % 2 ? client_b : client_a).receive();
    CHECK(reply == std::string(datagram(i).size(), 'R'));
  }

  std::size_t rest = batch.receive(server.fd, ec);
  REQUIRE_FALSE(ec);
  CHECK(rest == 4);
  CHECK(std::string(batch.payload(0).data(), batch.payload(0).size()) == datagram(DatagramBatch::capacity));
  CHECK(batch.receive(server.fd, ec) == 0);
  CHECK(errno_of(ec) == EAGAIN);
}

TEST_CASE("DatagramBatch sends filled slots on a connected socket, one datagram each") {
  UdpSocket server, client;
  REQUIRE(::connect(client.fd, reinterpret_cast<const sockaddr*>(&server.address), sizeof server.address) == 0);
  DatagramBatch batch;
  for (std::size_t i = 0; i < 6; ++i) {
    std::string data = datagram(i);
    std::memcpy(batch.slot(i).data(), data.data(), data.size());
    batch.set_length(i, data.size());
  }
  std::error_code ec;
  CHECK(batch.send_connected(client.fd, 0, 6, ec) == 6);
  CHECK_FALSE(ec);
  for (std::size_t i = 0; i < 6; ++i) CHECK(server.receive() == datagram(i));
}

TEST_CASE("DatagramBatch sends mixed sizes on a connected socket, one datagram per slot") {
  // Equal sizes in a row, a shorter one, an empty one and large ones: none merged or split.
  const std::vector<std::size_t> sizes = {1400, 1400, 1400, 1400, 700, 1400, 0, 1400, 1400,
                                          9000, 9000, 9000, 9000, 9000, 9000, 9000, 9000};
  REQUIRE(sizes.size() <= DatagramBatch::capacity + 1);
  auto fill = [&](DatagramBatch& batch, std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
      std::memset(batch.slot(i - from).data(), static_cast<int>('A' + i), sizes[i]);
      batch.set_length(i - from, sizes[i]);
    }
  };
  auto expect_arrival = [&](auto receive, std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
      std::string got = receive();
      CHECK(got.size() == sizes[i]);
      CHECK(got == std::string(sizes[i], static_cast<char>('A' + i)));
    }
  };
  std::size_t half = DatagramBatch::capacity;
  std::error_code ec;

  SECTION("over UDP") {
    UdpSocket server, client;
    REQUIRE(::connect(client.fd, reinterpret_cast<const sockaddr*>(&server.address), sizeof server.address) == 0);
    DatagramBatch batch;
    fill(batch, 0, half);
    CHECK(batch.send_connected(client.fd, 0, half, ec) == half);
    CHECK_FALSE(ec);
    expect_arrival([&] { return server.receive(); }, 0, half);
  }
  SECTION("over a Unix datagram socket") {
    int pair[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) == 0);
    int room = 4 << 20;
    ::setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &room, sizeof room);
    DatagramBatch batch;
    fill(batch, 0, half);
    CHECK(batch.send_connected(pair[0], 0, half, ec) == half);
    CHECK_FALSE(ec);
    expect_arrival(
        [&] {
          std::string data(70000, '\0');
          ssize_t n = ::recv(pair[1], data.data(), data.size(), MSG_DONTWAIT);
          REQUIRE(n >= 0);
          data.resize(static_cast<std::size_t>(n));
          return data;
        },
        0, half);
    ::close(pair[0]);
    ::close(pair[1]);
  }
}
