// ZeroCopy: the path chosen for each pair of descriptor types, and each path moving every byte.
#include <catch2/catch.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

#include "system_error.hpp"
#include "zero_copy.hpp"

using namespace sockcat;

namespace {

// A descriptor closed at scope exit.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) { REQUIRE(fd >= 0); }
  ~Fd() { ::close(fd); }
};

struct Pipe {
  int ends[2];
  Pipe() { REQUIRE(::pipe2(ends, O_NONBLOCK | O_CLOEXEC) == 0); }
  ~Pipe() { ::close(ends[0]); ::close(ends[1]); }
  int reader() const { return ends[0]; }
  int writer() const { return ends[1]; }
};

struct SocketPair {
  int ends[2];
  SocketPair() { REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, ends) == 0); }
  ~SocketPair() { ::close(ends[0]); ::close(ends[1]); }
};

// A temporary regular file holding `content`, opened with `flags`.
struct TempFile {
  std::string path;
  int fd;
  explicit TempFile(const std::string& content, int flags = O_RDWR) {
    char name[] = "/tmp/sockcat-zero-copy-XXXXXX";
    int created = ::mkstemp(name);
    REQUIRE(created >= 0);
    path = name;
    REQUIRE(::write(created, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
    ::close(created);
    fd = ::open(path.c_str(), flags);
    REQUIRE(fd >= 0);
  }
  ~TempFile() {
    ::close(fd);
    ::unlink(path.c_str());
  }
};

std::string pattern(std::size_t size) {
  std::string text(size, '\0');
  for (std::size_t i = 0; i < size; ++i) text[i] = static_cast<char>((i * 131 + i / 7) & 0xff);
  return text;
}

// Reads whatever is available from a non-blocking descriptor.
std::string drain(int fd) {
  std::string got;
  char buffer[65536];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) return got;
    got.append(buffer, static_cast<std::size_t>(n));
  }
}

}  // namespace

TEST_CASE("choose_copy_path: zero-copy only where the descriptor types allow it") {
  Pipe pipe;
  SocketPair sockets;
  TempFile file("x");
  TempFile appending("x", O_WRONLY | O_APPEND);
  Fd null(::open("/dev/null", O_WRONLY));
  Fd tty_like(::open("/dev/zero", O_RDONLY));  // a character device that is not /dev/null

  CHECK(choose_copy_path(pipe.reader(), sockets.ends[0]) == CopyPath::splice);
  CHECK(choose_copy_path(sockets.ends[0], pipe.writer()) == CopyPath::splice);
  CHECK(choose_copy_path(file.fd, sockets.ends[0]) == CopyPath::sendfile);
  CHECK(choose_copy_path(sockets.ends[0], file.fd) == CopyPath::splice_via_pipe);
  CHECK(choose_copy_path(sockets.ends[0], null.fd) == CopyPath::splice_via_pipe);
  CHECK(choose_copy_path(sockets.ends[0], appending.fd) == CopyPath::buffered);  // splice refuses O_APPEND
  CHECK(choose_copy_path(sockets.ends[0], sockets.ends[1]) == CopyPath::buffered);
  CHECK(choose_copy_path(tty_like.fd, sockets.ends[0]) == CopyPath::buffered);
  CHECK(choose_copy_path(pipe.reader(), file.fd) == CopyPath::buffered);
}

TEST_CASE("ZeroCopy splice: pipe to socket and socket to pipe move every byte, then EOF") {
  const std::string data = pattern(200'000);
  Pipe in;
  SocketPair net;
  Pipe out;
  ZeroCopy up(in.reader(), net.ends[0]);
  ZeroCopy down(net.ends[1], out.writer());
  REQUIRE(up.path() == CopyPath::splice);
  REQUIRE(down.path() == CopyPath::splice);

  // Nothing to read yet: the step says which side to wait for.
  CopyStep idle = up.step();
  CHECK(idle.bytes == 0);
  CHECK(idle.wait_source);
  CHECK_FALSE(idle.wait_sink);

  std::string received;
  std::size_t written = 0;
  for (int round = 0; round < 10'000 && received.size() < data.size(); ++round) {
    if (written < data.size()) {
      ssize_t n = ::write(in.writer(), data.data() + written, data.size() - written);
      if (n > 0) written += static_cast<std::size_t>(n);
    }
    CopyStep a = up.step();
    CHECK_FALSE(a.read_error);
    CHECK_FALSE(a.write_error);
    CopyStep b = down.step();
    CHECK_FALSE(b.read_error);
    CHECK_FALSE(b.write_error);
    received += drain(out.reader());
  }
  CHECK(received == data);

  ::close(in.ends[1]);
  in.ends[1] = ::open("/dev/null", O_RDONLY);  // keep the destructor's close harmless
  CHECK(up.step().source_ended);
}

TEST_CASE("ZeroCopy splice: a pipe whose reader is gone is a write error") {
  std::signal(SIGPIPE, SIG_IGN);  // as sockcat's main() does: EPIPE, not death
  SocketPair net;
  Pipe out;
  ZeroCopy down(net.ends[1], out.writer());
  ::close(out.ends[0]);
  out.ends[0] = ::open("/dev/null", O_RDONLY);
  REQUIRE(::write(net.ends[0], "abc", 3) == 3);
  CopyStep step = down.step();
  CHECK(errno_of(step.write_error) == EPIPE);
  CHECK_FALSE(step.read_error);
}

TEST_CASE("ZeroCopy sendfile: a regular file reaches the socket whole, then EOF") {
  const std::string data = pattern(300'001);
  TempFile file(data, O_RDONLY);
  SocketPair net;
  ZeroCopy up(file.fd, net.ends[0]);
  REQUIRE(up.path() == CopyPath::sendfile);
  std::string received;
  bool ended = false;
  for (int round = 0; round < 10'000 && !ended; ++round) {
    CopyStep step = up.step();
    REQUIRE_FALSE(step.write_error);
    ended = step.source_ended;
    received += drain(net.ends[1]);
  }
  CHECK(ended);
  CHECK(received == data);
}

TEST_CASE("ZeroCopy splice through a pipe: socket to regular file, every byte, then EOF") {
  const std::string data = pattern(250'000);
  TempFile file("", O_RDWR | O_TRUNC);
  SocketPair net;
  ZeroCopy down(net.ends[1], file.fd);
  REQUIRE(down.path() == CopyPath::splice_via_pipe);
  CHECK(down.step().wait_source);
  std::size_t written = 0;
  std::size_t moved = 0;
  for (int round = 0; round < 10'000 && moved < data.size(); ++round) {
    if (written < data.size()) {
      ssize_t n = ::write(net.ends[0], data.data() + written, data.size() - written);
      if (n > 0) written += static_cast<std::size_t>(n);
    }
    CopyStep step = down.step();
    REQUIRE_FALSE(step.write_error);
    REQUIRE_FALSE(step.read_error);
    moved += step.bytes;
  }
  CHECK(moved == data.size());
  ::shutdown(net.ends[0], SHUT_WR);
  CHECK(down.step().source_ended);
  std::string content(data.size() + 1, '\0');
  CHECK(::pread(file.fd, content.data(), content.size(), 0) == static_cast<ssize_t>(data.size()));
  content.resize(data.size());
  CHECK(content == data);
}
