#include "file_server.hpp"

#include <array>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdexcept>
#include <system_error>
#include <unistd.h>

#include "diag.hpp"
#include "exit_status.hpp"
#include "endpoint.hpp"
#include "parse.hpp"
#include "relay_tap.hpp"
#include "zero_copy.hpp"

namespace sockcat {
namespace {

using asio::ip::tcp;

// A descriptor closed when it goes out of scope.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// An opened file to send and its size, or why it could not be opened.
struct OpenedFile {
  int fd = -1;
  std::uint64_t size = 0;
  std::error_code error;
};

// Opens `path` for reading, refusing anything but a regular file. O_NONBLOCK keeps a FIFO
// from blocking the open; it changes nothing for a regular file.
OpenedFile open_file(const std::string& path) {
  OpenedFile opened;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    opened.error = {errno, std::system_category()};
    return opened;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    opened.error = S_ISDIR(st.st_mode) ? std::make_error_code(std::errc::is_a_directory)
                                       : std::make_error_code(std::errc::invalid_argument);
    ::close(fd);
    return opened;
  }
  opened.fd = fd;
  opened.size = static_cast<std::uint64_t>(st.st_size);
  return opened;
}

std::string file_problem(const std::string& path, const std::error_code& error) {
  if (error == std::errc::invalid_argument) return "--send-file " + quote(path) + ": not a regular file";
  return "--send-file " + quote(path) + ": " + error.message();
}

// How one client's transfer went.
struct Transfer {
  std::uint64_t sent = 0;
  std::uint64_t size = 0;
  std::error_code failure;  // the client's, or the file's; empty when the whole file went
  bool file_failed = false;  // the file could not be opened (already reported)
};

// Sends the file to `socket` to its end, taking at most `idle` per wait for room; shows `tap`
// (if any) what went.
asio::awaitable<Transfer> send_whole_file(StreamSocket& socket, const std::string& path, std::chrono::milliseconds idle,
                                          RelayTap* tap) {
  auto executor = co_await asio::this_coro::executor;
  Transfer transfer;
  OpenedFile opened = open_file(path);
  if (opened.error) {
    diag::error(file_problem(path, opened.error));
    transfer.failure = opened.error;
    transfer.file_failed = true;
    co_return transfer;
  }
  FileDescriptor file(opened.fd);
  transfer.size = opened.size;
  ZeroCopy copier(file.get(), socket.native_handle());  // a regular file to a socket: sendfile
  for (;;) {
    CopyStep step = copier.step();
    if (tap) tap->sent_from_file(file.get(), transfer.sent, step.bytes);
    transfer.sent += step.bytes;
    if (step.write_error || step.read_error) {
      transfer.failure = step.write_error ? step.write_error : step.read_error;
      co_return transfer;
    }
    if (step.source_ended) co_return transfer;
    if (step.wait_sink) {
      if (std::error_code ec = co_await wait_writable(socket, idle)) {
        transfer.failure = ec;
        co_return transfer;
      }
    } else {
      co_await asio::post(executor, asio::use_awaitable);  // a megabyte went: let the others run
    }
  }
}

// Shared by every client of this thread for what they send after the file: read and dropped.
thread_local std::array<char, 16 * 1024> discarded;

// Waits, at most send_file_linger, for the client to close, dropping what it sends (after
// showing it to `tap`, if any).
asio::awaitable<void> await_client_close(StreamSocket& socket, RelayTap* tap) {
  auto deadline = std::chrono::steady_clock::now() + send_file_linger;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) co_return;
    if (co_await wait_readable(socket, left)) co_return;
    std::error_code ec;
    std::size_t n = socket.read_some(asio::buffer(discarded), ec);
    if (tap) tap->crossed(Direction::received, std::span<const char>(discarded.data(), n));
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) co_return;  // eof included
  }
}

// Serves one client: the file, the half-close, the wait for its close. Reports under -v;
// `server_tap` (null unless logging) gives it a tap.
asio::awaitable<Transfer> serve_client(StreamSocket& socket, const std::string& peer, const std::string& path,
                                       std::chrono::milliseconds idle, ServerTap* server_tap) {
  std::error_code ec;
  diag::info(1, "connection from " + peer);
  std::unique_ptr<RelayTap> tap = client_tap(server_tap, peer);
  Transfer transfer = co_await send_whole_file(socket, path, idle, tap.get());
  if (!transfer.failure) {
    socket.shutdown(asio::socket_base::shutdown_send, ec);
    co_await await_client_close(socket, tap.get());
  }
  socket.close(ec);
  std::string counts = " (sent " + std::to_string(transfer.sent) + " of " + diag::count_of(transfer.size, "byte") + ")";
  if (!transfer.failure) diag::info(1, "connection from " + peer + " closed" + counts);
  else if (transfer.failure == std::errc::timed_out)
    diag::info(1, "connection from " + peer + " closed: took nothing for too long (-i)" + counts);
  else diag::info(1, "connection from " + peer + " failed: " + transfer.failure.message() + counts);
  co_return transfer;
}

// One client of the -k file server, owning its socket.
asio::awaitable<void> file_session(StreamSocket socket, std::string peer, std::string path,
                                   std::chrono::milliseconds idle, ServerTap* server_tap) {
  co_await serve_client(socket, peer, path, idle, server_tap);
}

}  // namespace

void check_file_to_send(const std::string& path) {
  OpenedFile opened = open_file(path);
  // One reason each, worded as --allowfile words its own: system_error appends the message.
  if (opened.error == std::errc::invalid_argument)
    throw std::runtime_error("--send-file: " + quote(path) + " is not a regular file");
  if (opened.error) throw std::system_error(opened.error, "--send-file: cannot read " + quote(path));
  ::close(opened.fd);
}

asio::awaitable<int> serve_file(StreamAcceptor& acceptor, const std::string& path, bool keep_open, ServerLimits limits) {
  if (keep_open) {
    const SocketSession session = [path, idle = limits.idle_timeout, tap = limits.tap](StreamSocket socket, std::string peer) {
      return file_session(std::move(socket), std::move(peer), path, idle, tap);
    };
    co_await accept_clients(acceptor, limits, session);
    co_return exit_ok;
  }
  auto [socket, peer] = co_await accept_admitted(acceptor, limits);
  Transfer transfer = co_await serve_client(socket, peer, path, limits.idle_timeout, limits.tap);
  if (!transfer.failure) co_return limits.tap && limits.tap->failed() ? exit_failure : exit_ok;  // a log write failed
  if (!transfer.file_failed)
    diag::error("sending " + quote(path) + " to " + peer + ": " + transfer.failure.message() + " (sent " +
                std::to_string(transfer.sent) + " of " + diag::count_of(transfer.size, "byte") + ")");
  co_return exit_failure;
}

}  // namespace sockcat
