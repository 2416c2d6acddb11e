#include "framed_server.hpp"

#include <algorithm>
#include <array>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cstring>
#include <memory>

#include "diag.hpp"
#include "relay_tap.hpp"
#include "with_error.hpp"

namespace sockcat {
namespace {


// Bytes read from a client in one go.
constexpr std::size_t read_size = 64 * 1024;

// The bytes of one client's incomplete message, carried from one read to the next. Grows to
// at most `limit` bytes; holds no memory while the client sends whole messages.
class HeldBytes {
 public:
  explicit HeldBytes(std::size_t limit) : limit_(limit) {}

  bool empty() const { return size_ == 0; }
  std::span<char> bytes() { return {data_.get(), size_}; }

  // Room for one more read after the held bytes (allocating up to the limit).
  std::span<char> room() {
    std::size_t wanted = std::min(size_ + read_size, limit_);
    if (capacity_ < wanted) {
      std::size_t grown = std::min(std::max(capacity_ * 2, wanted), limit_);
      auto bigger = std::make_unique<char[]>(grown);
      if (size_ > 0) std::memcpy(bigger.get(), data_.get(), size_);
      data_ = std::move(bigger);
      capacity_ = grown;
    }
    return {data_.get() + size_, capacity_ - size_};
  }

  // Counts `n` bytes just read into room() as held.
  void grow(std::size_t n) { size_ += n; }

  // Drops the first `n` held bytes; the memory goes when nothing is left.
  void drop_front(std::size_t n) {
    size_ -= n;
    if (size_ == 0) {
      data_.reset();
      capacity_ = 0;
    } else if (n > 0) {
      std::memmove(data_.get(), data_.get() + n, size_);
    }
  }

  // Holds a copy of `tail` (called only while nothing is held).
  void keep(std::span<const char> tail) {
    if (tail.empty()) return;
    room();
    std::memcpy(data_.get(), tail.data(), tail.size());
    size_ = tail.size();
  }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  std::size_t limit_;
};

// How one client's session ended, for the log.
struct Ending {
  std::error_code failure;      // a read or write error (timed_out for -i)
  std::string problem;          // a framing problem, already worded
  std::uint64_t received = 0;   // bytes
  std::uint64_t sent = 0;       // bytes
  std::uint64_t answered = 0;   // messages
};

void report_end(const std::string& peer, const Ending& end) {
  std::string counts = " (received " + diag::count_of(end.received, "byte") + ", sent " + std::to_string(end.sent) +
                       ", " + diag::count_of(end.answered, "message") + ")";
  if (!end.problem.empty()) diag::info(1, "connection from " + peer + " closed: " + end.problem + counts);
  else if (end.failure == std::errc::timed_out)
    diag::info(1, "connection from " + peer + " closed: idle too long (-i)" + counts);
  else if (end.failure && end.failure != asio::error::operation_aborted)
    diag::info(1, "connection from " + peer + " failed: " + end.failure.message() + counts);
  else diag::info(1, "connection from " + peer + " closed" + counts);
}

// Counts the messages answered in `replies` (the framing's decoder run over its own output).
std::uint64_t count_messages(const Framing& framing, std::span<const char> replies) {
  std::uint64_t count = 0;
  while (!replies.empty()) {
    Decoded one = framing.decode(replies, replies.size(), 0);
    if (one.status != DecodeStatus::complete) break;
    replies = replies.subspan(one.consumed);
    ++count;
  }
  return count;
}

// Serves one client: read, answer each whole message in place, send the answers, keep an
// incomplete message for the next read. `server_tap` (null unless logging) gives it a tap.
asio::awaitable<void> answer_client(StreamSocket socket, std::string peer, FramedService service,
                                    std::chrono::milliseconds idle, ServerTap* server_tap) {
  std::error_code ec;
  diag::info(1, "connection from " + peer);
  std::unique_ptr<RelayTap> tap = client_tap(server_tap, peer);
  const Framing& framing = *service.framing;
  HeldBytes held(service.max_message + framing.overhead + 1 + read_size);
  Ending end;
  for (;;) {
    // Read into the scratch buffer, or behind the incomplete message held from before.
    const bool continuing = !held.empty();
    const std::size_t checked = continuing ? held.bytes().size() : 0;
    std::span<char> into = continuing ? held.room() : server_scratch();
    auto [read_error, n] = co_await read_when_readable(socket, into, idle);
    if (read_error == asio::error::eof) {
      if (!held.empty())
        diag::error("connection from " + peer + ": truncated message at end of stream (" +
                    diag::count_of(held.bytes().size(), "byte") + " dropped)");
      break;
    }
    if (read_error) {
      end.failure = read_error;
      break;
    }
    end.received += n;
    if (tap) tap->crossed(Direction::received, into.first(n));
    std::span<char> data = continuing ? (held.grow(n), held.bytes()) : server_scratch().first(n);
    InPlaceReplies replies = reply_in_place(framing, data, service.max_message, service.reply, checked);

    std::size_t written = asio::write(socket, asio::buffer(data.data(), replies.reply_size), ec);
    end.sent += written;
    if (tap) tap->crossed(Direction::sent, data.first(written));
    if (diag::verbosity() >= 1) end.answered += count_messages(framing, data.first(replies.reply_size));
    // Whatever must outlive this turn leaves the scratch buffer (or the held one) now.
    std::unique_ptr<char[]> unsent;
    std::size_t unsent_size = replies.reply_size - written;
    if (unsent_size > 0 && (!ec || would_block(ec))) {
      unsent = std::make_unique<char[]>(unsent_size);
      std::memcpy(unsent.get(), data.data() + written, unsent_size);
    }
    if (continuing) held.drop_front(replies.consumed);
    else held.keep(data.subspan(replies.consumed));
    if (ec && !would_block(ec)) {
      end.failure = ec;
      break;
    }
    if (unsent) {
      // The client is not keeping up: send the rest before reading again (backpressure).
      auto [write_error, more] = co_await asio::async_write(socket, asio::buffer(unsent.get(), unsent_size), with_error);
      end.sent += more;
      if (tap) tap->crossed(Direction::sent, std::span<const char>(unsent.get(), more));
      if (write_error) {
        end.failure = write_error;
        break;
      }
    }
    if (replies.too_large) {
      end.problem = "message over --max-message (" + diag::count_of(service.max_message, "byte") + ")";
      socket.close(ec);  // told nothing
      break;
    }
  }
  if (socket.is_open() && !end.failure) socket.shutdown(asio::socket_base::shutdown_send, ec);
  socket.close(ec);
  report_end(peer, end);
}

}  // namespace

asio::awaitable<void> serve_framed(StreamAcceptor& acceptor, FramedService service, ServerLimits limits) {
  const SocketSession session = [service, limits](StreamSocket socket, std::string peer) {
    return answer_client(std::move(socket), std::move(peer), service, limits.idle_timeout, limits.tap);
  };
  co_await accept_clients(acceptor, limits, session);
}

}  // namespace sockcat
