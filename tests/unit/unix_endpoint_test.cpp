// unix_endpoint.hpp: -U PATH and @NAME as addresses, their names in messages, the stale
// socket check before a listener binds, and removing our own socket files at exit.
#include <catch2/catch.hpp>

#include <asio/generic/stream_protocol.hpp>
#include <asio/ip/tcp.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <variant>

#include "endpoint.hpp"
#include "unix_endpoint.hpp"

using namespace sockcat;
using Catch::Matchers::Contains;

namespace {

// The address `text` must parse to.
UnixAddress parsed_address(const std::string& text) {
  Parsed<UnixAddress> parsed = parse_unix_address(text);
  INFO("text: " << text);
  REQUIRE(std::holds_alternative<UnixAddress>(parsed));
  return std::get<UnixAddress>(parsed);
}

// The reason `text` must be refused.
std::string refusal(const std::string& text) {
  Parsed<UnixAddress> parsed = parse_unix_address(text);
  INFO("text: " << text);
  REQUIRE(std::holds_alternative<std::string>(parsed));
  std::string reason = std::get<std::string>(parsed);
  CHECK(reason.find('\n') == std::string::npos);
  return reason;
}

std::string name_of(const UnixAddress& address) {
  return format_unix_address(reinterpret_cast<const sockaddr*>(&address.address), address.length);
}

// A fresh directory under /tmp, removed (with what is left in it) at the end of the scope.
struct TempDir {
  TempDir() {
    char pattern[] = "/tmp/sockcat-unix-test-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    for (const char* leaf : {"/s", "/s2", "/f", "/d"}) {
      std::string p = path + leaf;
      ::unlink(p.c_str());
      ::rmdir(p.c_str());
    }
    ::rmdir(path.c_str());
  }
  std::string path;
};

// A socket of `type` bound to `address`; closed by the destructor (the file stays).
struct BoundSocket {
  BoundSocket(const UnixAddress& address, int type) : fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0)) {
    REQUIRE(fd >= 0);
    REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&address.address), address.length) == 0);
    if (type == SOCK_STREAM) REQUIRE(::listen(fd, 4) == 0);
  }
  ~BoundSocket() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int fd;
};

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

TEST_CASE("parse_unix_address: a path is NUL-terminated, an @NAME is abstract and exact-length") {
  UnixAddress path = parsed_address("/tmp/s");
  CHECK_FALSE(path.abstract);
  CHECK(path.address.sun_family == AF_UNIX);
  CHECK(std::string(path.address.sun_path) == "/tmp/s");
  CHECK(path.length == offsetof(sockaddr_un, sun_path) + 7);  // with the NUL

  UnixAddress relative = parsed_address("s");
  CHECK(std::string(relative.address.sun_path) == "s");

  UnixAddress abstract = parsed_address("@name");
  CHECK(abstract.abstract);
  CHECK(abstract.address.sun_path[0] == '\0');
  CHECK(std::string(abstract.address.sun_path + 1, 4) == "name");
  CHECK(abstract.length == offsetof(sockaddr_un, sun_path) + 5);  // NUL + "name", no padding

  UnixAddress at_inside = parsed_address("/tmp/a@b");  // only a leading @ means abstract
  CHECK_FALSE(at_inside.abstract);
}

TEST_CASE("parse_unix_address: the limit is sun_path less one byte, for paths and names") {
  CHECK(unix_path_max == 107);
  std::string longest = "/" + std::string(unix_path_max - 1, 'p');
  CHECK(parsed_address(longest).length == sizeof(sockaddr_un));
  CHECK(parsed_address("@" + std::string(unix_path_max, 'n')).length == sizeof(sockaddr_un));

  std::string too_long = longest + "p";
  std::string reason = refusal(too_long);
  CHECK_THAT(reason, Contains("108 bytes") && Contains("at most 107") && Contains(too_long));
  CHECK_THAT(refusal("@" + std::string(unix_path_max + 1, 'n')), Contains("abstract") && Contains("at most 107"));
}

TEST_CASE("parse_unix_address: empty, a lone @ and NUL bytes are refused") {
  CHECK_THAT(refusal(""), Contains("empty"));
  CHECK_THAT(refusal("@"), Contains("@NAME"));
  CHECK_THAT(refusal(std::string("/tmp/a\0b", 8)), Contains("NUL"));
}

TEST_CASE("format_unix_address: paths, @names with unprintable bytes escaped, unnamed peers") {
  CHECK(name_of(parsed_address("/tmp/s")) == "/tmp/s");
  CHECK(name_of(parsed_address("@name")) == "@name");
  CHECK(name_of(parsed_address("@a\nb")) == "@a\\x0ab");
  sockaddr_un unnamed{};
  unnamed.sun_family = AF_UNIX;
  CHECK(format_unix_address(reinterpret_cast<const sockaddr*>(&unnamed), sizeof(sa_family_t)) == "unnamed socket");
  CHECK(format_unix_address(reinterpret_cast<const sockaddr*>(&unnamed), 0) == "unnamed socket");
  // A path that fills sun_path with no NUL stops at the end of the structure.
  sockaddr_un full{};
  full.sun_family = AF_UNIX;
  std::memset(full.sun_path, 'x', sizeof full.sun_path);
  CHECK(format_unix_address(reinterpret_cast<const sockaddr*>(&full), sizeof full) ==
        std::string(sizeof full.sun_path, 'x'));
}

TEST_CASE("format_endpoint of a generic endpoint names IP and Unix addresses alike") {
  asio::generic::stream_protocol::endpoint ip(asio::ip::tcp::endpoint(asio::ip::make_address("::1"), 80));
  CHECK(format_endpoint(ip) == "[::1]:80");
  UnixAddress unix_address = parsed_address("@x");
  asio::generic::stream_protocol::endpoint unix_endpoint(&unix_address.address, unix_address.length);
  CHECK(format_endpoint(unix_endpoint) == "@x");
}

TEST_CASE("probe_socket_path: absent, stale, live stream and datagram, not a socket") {
  TempDir dir;
  UnixAddress address = parsed_address(dir.path + "/s");
  std::error_code ec;
  CHECK(probe_socket_path(address, ec) == PathState::absent);
  CHECK_FALSE(ec);

  {
    BoundSocket listener(address, SOCK_STREAM);
    CHECK(probe_socket_path(address, ec) == PathState::live);
    CHECK_FALSE(ec);
    // The probe queued no connection: the listener has nobody to accept.
    int flags = ::fcntl(listener.fd, F_GETFL);
    ::fcntl(listener.fd, F_SETFL, flags | O_NONBLOCK);
    CHECK(::accept(listener.fd, nullptr, nullptr) < 0);
    CHECK(errno == EAGAIN);
  }
  CHECK(probe_socket_path(address, ec) == PathState::stale);  // the file outlived its socket
  REQUIRE(::unlink(address.address.sun_path) == 0);

  {
    BoundSocket receiver(address, SOCK_DGRAM);
    CHECK(probe_socket_path(address, ec) == PathState::live);
  }
  CHECK(probe_socket_path(address, ec) == PathState::stale);

  UnixAddress file = parsed_address(dir.path + "/f");
  std::ofstream(file.address.sun_path) << "keep me";
  CHECK(probe_socket_path(file, ec) == PathState::not_socket);
  UnixAddress directory = parsed_address(dir.path + "/d");
  REQUIRE(::mkdir(directory.address.sun_path, 0700) == 0);
  CHECK(probe_socket_path(directory, ec) == PathState::not_socket);

  CHECK(probe_socket_path(parsed_address("@sockcat-unit-no-such-name"), ec) == PathState::absent);
}

TEST_CASE("clear_stale_socket: removes a dead listener's file, never a live one or another file") {
  TempDir dir;
  UnixAddress address = parsed_address(dir.path + "/s");
  CHECK_NOTHROW(clear_stale_socket(address));  // nothing there

  {
    BoundSocket listener(address, SOCK_STREAM);
    try {
      clear_stale_socket(address);
      FAIL("a live listener's path was cleared");
    } catch (const std::system_error& e) {
      CHECK(e.code().value() == EADDRINUSE);
      CHECK_THAT(e.what(), Contains(dir.path + "/s"));
    }
    CHECK(exists(dir.path + "/s"));
  }
  CHECK_NOTHROW(clear_stale_socket(address));
  CHECK_FALSE(exists(dir.path + "/s"));

  UnixAddress file = parsed_address(dir.path + "/f");
  std::ofstream(file.address.sun_path) << "keep me";
  CHECK_THROWS_WITH(clear_stale_socket(file), Contains("not a socket"));
  CHECK(exists(dir.path + "/f"));
}

TEST_CASE("remove_own_socket_files: removes our file, not one bound there since") {
  TempDir dir;
  UnixAddress address = parsed_address(dir.path + "/s");
  {
    BoundSocket ours(address, SOCK_STREAM);
    remember_socket_file(address);
  }
  remove_own_socket_files();
  CHECK_FALSE(exists(dir.path + "/s"));

  {
    BoundSocket ours(address, SOCK_STREAM);
    remember_socket_file(address);
  }
  // Another listener takes the path meanwhile (bound elsewhere first, so that its file cannot
  // reuse our inode, then moved over ours).
  UnixAddress elsewhere = parsed_address(dir.path + "/s2");
  BoundSocket newer(elsewhere, SOCK_STREAM);
  REQUIRE(::rename(elsewhere.address.sun_path, address.address.sun_path) == 0);
  remove_own_socket_files();
  CHECK(exists(dir.path + "/s"));
  remove_own_socket_files();  // nothing recorded any more
  CHECK(exists(dir.path + "/s"));

  remember_socket_file(parsed_address("@sockcat-unit-abstract"));  // no file: nothing to do
  remove_own_socket_files();
}
