#include "framed_server.hpp"

#include <algorithm>
#include <cstring>
#include <memory>

#include "diag.hpp"
#include "relay_tap.hpp"
#include "session_end.hpp"

namespace sockcat {
namespace {

// Bytes read from a client in one go.
constexpr std::size_t read_size = 64 * 1024;

// The bytes of one client's incomplete message, carried from one read to the next. Grows to
// at most `limit` bytes; holds no memory while the client sends whole messages.
class HeldBytes {
 public:
  explicit HeldBytes(std::size_t limit) : limit_(limit) {}

  // True while no incomplete message is held.
  bool empty() const { return size_ == 0; }

  // The held bytes.
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

// The replies of one read that did not fit at once, in a buffer of their own.
struct Unsent {
  std::unique_ptr<char[]> data;  // null when everything was sent
  std::size_t size = 0;
};

// Sends what fits of `replies` now (counted in `end`, seen by `tap`). Returns the rest, copied
// out of `replies` (which another client's read or the next one of this client overwrites),
// with `ec` set when sending failed (nothing is returned then).
Unsent send_what_fits(Connection& client, std::span<const char> replies, Ending& end, RelayTap* tap,
                      std::error_code& ec) {
  std::size_t written = client.write_now(replies, ec);
  end.sent += written;
  if (tap) tap->crossed(Direction::sent, replies.first(written));
  if (would_block(ec)) ec.clear();
  Unsent unsent;
  if (ec || written == replies.size()) return unsent;
  unsent.size = replies.size() - written;
  unsent.data = std::make_unique<char[]>(unsent.size);
  std::memcpy(unsent.data.get(), replies.data() + written, unsent.size);
  return unsent;
}

// Serves one client: read, answer each whole message in place, send the answers, keep an
// incomplete message for the next read. `server_tap` (null unless logging) gives it a tap.
asio::awaitable<void> answer_client(std::unique_ptr<Connection> client, FramedService service,
                                    std::chrono::milliseconds idle, ServerTap* server_tap) {
  const std::string& peer = client->peer();
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
    auto [read_error, n] = co_await read_when_readable(*client, into, idle);
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
    if (diag::verbosity() >= 1) end.answered += count_messages(framing, data.first(replies.reply_size));
    Unsent unsent = send_what_fits(*client, data.first(replies.reply_size), end, tap.get(), end.failure);
    // Whatever must outlive this turn has left the scratch buffer (or the held one) now.
    if (continuing) held.drop_front(replies.consumed);
    else held.keep(data.subspan(replies.consumed));
    if (end.failure) break;
    if (unsent.data) {
      // The client is not keeping up: send the rest before reading again (backpressure).
      auto [write_error, more] = co_await write_all(*client, std::span<const char>(unsent.data.get(), unsent.size));
      end.sent += more;
      if (tap) tap->crossed(Direction::sent, std::span<const char>(unsent.data.get(), more));
      end.failure = write_error;
      if (write_error) break;
    }
    if (replies.too_large) {
      end.problem = "message over --max-message (" + diag::count_of(service.max_message, "byte") + ")";
      client->close();  // told nothing
      break;
    }
  }
  if (client->is_open() && !end.failure) co_await end_sending(*client);
  client->close();
  report_client_end({.peer = peer,
                     .failure = end.failure,
                     .problem = end.problem,
                     .counts = byte_counts(end.received, end.sent) + ", " + diag::count_of(end.answered, "message")});
}

}  // namespace

asio::awaitable<void> serve_framed(Listener& listener, FramedService service, ServerLimits limits) {
  const Session session = [service, limits](std::unique_ptr<Connection> client) {
    return answer_client(std::move(client), service, limits.idle_timeout, limits.tap);
  };
  co_await accept_clients(listener, limits, session);
}

}  // namespace sockcat
