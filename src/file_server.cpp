#include "file_server.hpp"

#include <array>
#include <asio/post.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <stdexcept>
#include <system_error>
#include <unistd.h>

#include "diag.hpp"
#include "exit_status.hpp"
#include "endpoint.hpp"
#include "parse.hpp"
#include "relay_tap.hpp"
#include "session_end.hpp"
#include "zero_copy.hpp"

namespace sockcat {
namespace {

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

// "sent N of M bytes": how much of the file a client got.
std::string sent_counts(const Transfer& transfer) {
  return "sent " + std::to_string(transfer.sent) + " of " + diag::count_of(transfer.size, "byte");
}

// Sends the rest of `file` to `connection` through a buffer, for a connection without a
// descriptor (its bytes pass through sockcat, so sendfile cannot reach them): a chunk at a time,
// the buffer held only while sending, taking at most `idle` per wait for room. Adds what went
// to `transfer.sent` and shows it to `tap` (if any); sets `transfer.failure` on a failure.
asio::awaitable<void> send_file_buffered(Connection& connection, int file, std::chrono::milliseconds idle, RelayTap* tap,
                                         Transfer& transfer) {
  auto executor = co_await asio::this_coro::executor;
  auto chunk = std::make_unique<std::array<char, 64 * 1024>>();
  for (;;) {
    ssize_t n = ::read(file, chunk->data(), chunk->size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      transfer.failure = {errno, std::system_category()};
      co_return;
    }
    if (n == 0) co_return;
    auto [write_error, written] =
        co_await write_all(connection, std::span<const char>(chunk->data(), static_cast<std::size_t>(n)), idle);
    if (tap) tap->crossed(Direction::sent, std::span<const char>(chunk->data(), written));
    transfer.sent += written;
    if (write_error) {
      transfer.failure = write_error;
      co_return;
    }
    co_await asio::post(executor, asio::use_awaitable);  // a chunk went: let the others run
  }
}

// Sends the rest of `file` to the kernel socket `socket` by sendfile(2), taking at most `idle`
// per wait for room in `connection` (which `socket` carries). Counts, shows and fails as
// send_file_buffered does.
asio::awaitable<void> send_file_zero_copy(Connection& connection, int socket, int file, std::chrono::milliseconds idle,
                                          RelayTap* tap, Transfer& transfer) {
  auto executor = co_await asio::this_coro::executor;
  ZeroCopy copier(file, socket);  // a regular file to a socket: sendfile
  for (;;) {
    CopyStep step = copier.step();
    if (tap) tap->sent_from_file(file, transfer.sent, step.bytes);
    transfer.sent += step.bytes;
    if (step.write_error || step.read_error) {
      transfer.failure = step.write_error ? step.write_error : step.read_error;
      co_return;
    }
    if (step.source_ended) co_return;
    if (step.wait_sink) {
      if (std::error_code ec = co_await wait_writable(connection, idle)) {
        transfer.failure = ec;
        co_return;
      }
    } else {
      co_await asio::post(executor, asio::use_awaitable);  // a megabyte went: let the others run
    }
  }
}

// Sends the file at `path` to `connection` to its end, taking at most `idle` per wait for
// room; shows `tap` (if any) what went.
asio::awaitable<Transfer> send_whole_file(Connection& connection, const std::string& path, std::chrono::milliseconds idle,
                                          RelayTap* tap) {
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
  if (int socket = connection.descriptor(); socket >= 0)
    co_await send_file_zero_copy(connection, socket, file.get(), idle, tap, transfer);
  else
    co_await send_file_buffered(connection, file.get(), idle, tap, transfer);
  co_return transfer;
}

// Shared by every client of this thread for what they send after the file: read and dropped.
thread_local std::array<char, 16 * 1024> discarded;

// Waits, at most send_file_linger, for the client to close, dropping what it sends (after
// showing it to `tap`, if any).
asio::awaitable<void> await_client_close(Connection& connection, RelayTap* tap) {
  auto deadline = std::chrono::steady_clock::now() + send_file_linger;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) co_return;
    if (co_await wait_readable(connection, left)) co_return;
    std::error_code ec;
    std::size_t n = connection.read_now(discarded, ec);
    if (tap) tap->crossed(Direction::received, std::span<const char>(discarded.data(), n));
    if (ec && !would_block(ec)) co_return;  // eof included
  }
}

// Serves one client: the file, the half-close, the wait for its close. Reports under -v;
// `server_tap` (null unless logging) gives it a tap.
asio::awaitable<Transfer> serve_client(Connection& connection, const std::string& path, std::chrono::milliseconds idle,
                                       ServerTap* server_tap) {
  diag::info(1, "connection from " + connection.peer());
  std::unique_ptr<RelayTap> tap = client_tap(server_tap, connection.peer());
  Transfer transfer = co_await send_whole_file(connection, path, idle, tap.get());
  if (!transfer.failure) {
    co_await end_sending(connection);
    co_await await_client_close(connection, tap.get());
  }
  connection.close();
  report_client_end(ClientEnd{.peer = connection.peer(),
                              .failure = transfer.failure,
                              .counts = sent_counts(transfer),
                              .idle_meaning = "took nothing for too long"});
  co_return transfer;
}

// One client of the -k file server, owning its connection.
asio::awaitable<void> file_session(std::unique_ptr<Connection> client, std::string path, std::chrono::milliseconds idle,
                                   ServerTap* server_tap) {
  co_await serve_client(*client, path, idle, server_tap);
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

asio::awaitable<int> serve_file(Listener& listener, const std::string& path, bool keep_open, ServerLimits limits) {
  if (keep_open) {
    const Session session = [path, idle = limits.idle_timeout, tap = limits.tap](std::unique_ptr<Connection> client) {
      return file_session(std::move(client), path, idle, tap);
    };
    co_await accept_clients(listener, limits, session);
    co_return exit_ok;
  }
  std::unique_ptr<Connection> client = co_await accept_admitted(listener, limits);
  Transfer transfer = co_await serve_client(*client, path, limits.idle_timeout, limits.tap);
  if (!transfer.failure) co_return limits.tap && limits.tap->failed() ? exit_failure : exit_ok;  // a log write failed
  if (!transfer.file_failed)
    diag::error("sending " + quote(path) + " to " + client->peer() + ": " + transfer.failure.message() + " (" +
                sent_counts(transfer) + ")");
  co_return exit_failure;
}

}  // namespace sockcat
