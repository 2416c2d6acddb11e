#include "transport/tls_connection.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <asio/error.hpp>
#include <asio/ssl/error.hpp>
#include <cerrno>
#include <utility>

#include "diag.hpp"

namespace sockcat {

// Appends OpenSSL's records to the connection's outbox (declared a friend of TlsConnection).
int outbox_write(BIO* bio, const char* data, int size);

namespace {

// The most one SSL_write is given: one TLS record's worth of plaintext.
constexpr std::size_t record_size = 16 * 1024;

// The most plaintext one write_now encrypts before it gives the records to the socket.
constexpr std::size_t coalesced_size = 4 * record_size;

// Room for the records of coalesced_size bytes (each record adds a header, a tag and a type byte).
constexpr std::size_t coalesced_records_size = coalesced_size + 4 * 64;

long outbox_ctrl(BIO*, int command, long, void*) {
  return command == BIO_CTRL_FLUSH ? 1 : 0;  // flushed after every OpenSSL call by the connection itself
}

int outbox_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

// The BIO that OpenSSL writes its records to: the connection's outbox. Never refuses bytes.
const BIO_METHOD* outbox_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* made = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sockcat outbox");
    BIO_meth_set_write(made, outbox_write);
    BIO_meth_set_ctrl(made, outbox_ctrl);
    BIO_meth_set_create(made, outbox_create);
    return made;
  }();
  return method;
}

}  // namespace

int outbox_write(BIO* bio, const char* data, int size) {
  try {
    static_cast<TlsConnection*>(BIO_get_data(bio))->append_to_outbox(data, static_cast<std::size_t>(size));
    return size;
  } catch (const std::bad_alloc&) {
    return -1;
  }
}

TlsConnection::TlsConnection(std::unique_ptr<Connection> carrier, SSL* ssl, std::chrono::milliseconds handshake_limit)
    : Connection(carrier->remote(), carrier->peer()),
      carrier_(std::move(carrier)),
      ssl_(ssl),
      verify_failure_(std::make_unique<VerifyFailure>()),
      handshake_deadline_(std::chrono::steady_clock::now() + handshake_limit) {
  SSL_set_app_data(ssl_, verify_failure_.get());
  BIO* outbox = BIO_new(outbox_method());
  if (!outbox) throw std::bad_alloc();
  BIO_set_data(outbox, this);
  SSL_set0_wbio(ssl_, outbox);  // reads stay on the socket's BIO
}

TlsConnection::~TlsConnection() {
  close();
  SSL_free(ssl_);
}

std::error_code TlsConnection::failure(int result, int call_errno, Readiness& wants) {
  const int kind = SSL_get_error(ssl_, result);
  std::error_code ec;
  switch (kind) {
    case SSL_ERROR_WANT_READ:
      wants = Readiness::readable;
      return asio::error::would_block;
    case SSL_ERROR_WANT_WRITE:
      wants = Readiness::writable;
      return asio::error::would_block;
    case SSL_ERROR_ZERO_RETURN:
      return asio::error::eof;  // the peer's close_notify
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0) {
        ec = call_errno != 0 ? std::error_code(call_errno, asio::error::get_system_category())
             : handshake_done_ ? make_error_code(TlsError::truncated)
                               : make_error_code(TlsError::handshake_closed);
        break;
      }
      [[fallthrough]];
    default: {
      unsigned long code = ERR_get_error();
      int reason = ERR_GET_REASON(code);
      if (reason == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        ec = handshake_done_ ? make_error_code(TlsError::truncated) : make_error_code(TlsError::handshake_closed);
      else if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED && SSL_get_verify_result(ssl_) != X509_V_OK)
        ec = verify_error(SSL_get_verify_result(ssl_));
      else if (code != 0)
        ec = std::error_code(static_cast<int>(code), asio::error::get_ssl_category());
      else
        ec = asio::error::connection_aborted;
    }
  }
  ERR_clear_error();
  failed_ = true;
  return ec;
}

asio::awaitable<std::error_code> TlsConnection::wait_carrier(Readiness what) {
  if (handshake_done_ || what == Readiness::failed) co_return co_await carrier_->wait(what);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(handshake_deadline_ - std::chrono::steady_clock::now());
  if (left.count() <= 0) co_return make_error_code(TlsError::handshake_timeout);
  std::error_code ec = what == Readiness::readable ? co_await wait_readable(*carrier_, left)
                                                   : co_await wait_writable(*carrier_, left);
  if (ec == std::errc::timed_out) co_return make_error_code(TlsError::handshake_timeout);
  co_return ec;
}

asio::awaitable<std::error_code> TlsConnection::wait(Readiness what) {
  if (closed_) co_return asio::error::bad_descriptor;
  if (what == Readiness::readable) {
    // An end already met, records OpenSSL read ahead, or plaintext left over: there to read now.
    if (held_read_error_ || (!read_stalled_ && SSL_has_pending(ssl_))) co_return std::error_code();
    // A handshake flight still in the outbox: the peer answers only once it has it all.
    while (!handshake_done_ && !outbox_.empty()) {
      if (std::error_code ec = co_await wait_carrier(Readiness::writable)) co_return ec;
      if (std::error_code ec = flush_outbox(); ec && !would_block(ec)) co_return std::error_code();  // a read will say
    }
    co_return co_await wait_carrier(read_wants_);
  }
  if (what == Readiness::writable) {
    const bool needs_room = !outbox_.empty() || close_notify_owed_ || fin_owed_;
    co_return co_await wait_carrier(needs_room ? Readiness::writable : write_wants_);
  }
  co_return co_await wait_carrier(Readiness::failed);
}

std::error_code TlsConnection::flush_outbox() {
  while (outbox_sent_ < outbox_.size()) {
    std::error_code ec;
    std::span<const char> rest(outbox_.data() + outbox_sent_, outbox_.size() - outbox_sent_);
    std::size_t n = carrier_->write_now(rest, ec);
    outbox_sent_ += n;
    if (ec) {
      if (!would_block(ec)) failed_ = true;
      return ec;
    }
  }
  std::vector<char>().swap(outbox_);  // an idle connection holds no buffer
  outbox_sent_ = 0;
  return {};
}

std::size_t TlsConnection::read_now(std::span<char> into, std::error_code& ec) {
  ec.clear();
  if (closed_) {
    ec = asio::error::bad_descriptor;
    return 0;
  }
  if (held_read_error_) {  // the end found after the last read's bytes
    ec = std::exchange(held_read_error_, {});
    return 0;
  }
  // One SSL_read gives at most one record: fill `into` from as many as are there.
  std::size_t total = 0;
  while (total < into.size()) {
    ERR_clear_error();
    std::size_t n = 0;
    int result = SSL_read_ex(ssl_, into.data() + total, into.size() - total, &n);
    const int call_errno = errno;
    note_handshake_done();
    std::error_code end = result == 1 ? std::error_code() : failure(result, call_errno, read_wants_);
    // What the read made (a handshake flight, an owed close_notify, an answer to the peer)
    // leaves as far as the socket takes it now: reads never wait for room.
    if (close_notify_owed_ || fin_owed_) {
      std::error_code ignored;
      send_owed_close_notify(ignored);
    } else if (!outbox_.empty()) {
      flush_outbox();
    }
    if (result == 1) {
      read_stalled_ = false;
      total += n;
      continue;
    }
    read_stalled_ = would_block(end);
    if (total == 0) {
      ec = end;
    } else if (!read_stalled_) {
      held_read_error_ = end;  // said at the next call, after these bytes
    }
    break;
  }
  return total;
}

std::size_t TlsConnection::write_now(std::span<const char> from, std::error_code& ec) {
  ec.clear();
  if (closed_) {
    ec = asio::error::bad_descriptor;
    return 0;
  }
  if (from.size() < write_pending_) {  // the rule broken: the caller did not retry with the same bytes
    ec = asio::error::invalid_argument;
    return 0;
  }
  if (write_pending_ == 0) {  // encrypt what the outbox may hold; the records wait there
    if (!outbox_.empty() && (ec = flush_outbox())) return 0;  // earlier records first (a handshake flight)
    outbox_.reserve(std::min(from.size(), coalesced_size) + coalesced_records_size - coalesced_size);
    while (write_pending_ < from.size() && write_pending_ < coalesced_size) {
      std::size_t chunk = std::min(from.size() - write_pending_, record_size);
      ERR_clear_error();
      std::size_t written = 0;
      int result = SSL_write_ex(ssl_, from.data() + write_pending_, chunk, &written);
      const int call_errno = errno;
      note_handshake_done();
      if (result != 1) {
        ec = failure(result, call_errno, write_wants_);  // would_block: a server's handshake needs the client
        break;
      }
      write_wants_ = Readiness::writable;
      write_pending_ += written;
    }
    if (ec && !would_block(ec)) return 0;
    if (write_pending_ == 0) {
      if (std::error_code flushed = flush_outbox(); flushed && !would_block(flushed)) ec = flushed;
      return 0;  // would_block: wait for what write_wants_ says
    }
  }
  // The bytes in write_pending_ are written once all their records are in the socket.
  if ((ec = flush_outbox())) return 0;
  std::size_t total = std::exchange(write_pending_, 0);
  if (close_notify_owed_) send_owed_close_notify(ec);
  if (would_block(ec)) ec.clear();  // the bytes went; the close_notify waits for the next call
  return total;
}

void TlsConnection::shutdown_send(std::error_code& ec) {
  ec.clear();
  if (closed_) {
    ec = asio::error::bad_descriptor;
    return;
  }
  if (close_notify_sent_ && !fin_owed_) return;
  if (failed_) {  // no close_notify after a fatal error: TCP's FIN only
    carrier_->shutdown_send(ec);
    return;
  }
  if (!close_notify_sent_) close_notify_owed_ = true;
  send_owed_close_notify(ec);
}

void TlsConnection::send_owed_close_notify(std::error_code& ec) {
  if (close_notify_owed_) {
    if (!handshake_done_ || write_pending_ > 0) return;  // goes after them, once they are out
    ERR_clear_error();
    int result = SSL_shutdown(ssl_);  // into the outbox, which never refuses
    if (result < 0) {
      ec = failure(result, errno, write_wants_);
      return;
    }
    close_notify_owed_ = false;
    close_notify_sent_ = true;
    fin_owed_ = true;
  }
  if (!fin_owed_) return;
  if ((ec = flush_outbox())) return;  // would_block: the rest waits for room
  fin_owed_ = false;
  carrier_->shutdown_send(ec);
}

void TlsConnection::close() {
  if (closed_) return;
  if (!failed_ && !close_notify_sent_ && write_pending_ == 0 && handshake_done_) {
    ERR_clear_error();
    if (SSL_shutdown(ssl_) >= 0) close_notify_sent_ = true;
    ERR_clear_error();
  }
  if (!failed_ && !outbox_.empty()) flush_outbox();  // as far as the socket takes it now
  closed_ = true;
  carrier_->close();
}

void TlsConnection::note_handshake_done() {
  if (handshake_done_ || !SSL_is_init_finished(ssl_)) return;
  handshake_done_ = true;
  if (SSL_is_server(ssl_)) diag::info(2, "TLS with " + peer() + ": " + describe_session(ssl_));
}

asio::awaitable<std::error_code> TlsConnection::start() {
  for (;;) {
    ERR_clear_error();
    int result = SSL_do_handshake(ssl_);
    const int call_errno = errno;
    Readiness wants = Readiness::readable;
    std::error_code ec = result == 1 ? std::error_code() : failure(result, call_errno, wants);
    if (std::error_code flushed = flush_outbox()) {  // the flight goes before anything is awaited
      if (!would_block(flushed)) co_return flushed;
      wants = Readiness::writable;
      if (!ec) ec = flushed;
    }
    if (result == 1 && !ec) {
      note_handshake_done();
      co_return std::error_code();
    }
    if (!would_block(ec)) co_return ec;
    if (std::error_code waited = co_await wait_carrier(wants)) co_return waited;
  }
}

TlsListener::TlsListener(std::unique_ptr<Listener> carrier, std::shared_ptr<const TlsContext> context,
                         std::chrono::milliseconds handshake_limit)
    : carrier_(std::move(carrier)), context_(std::move(context)), handshake_limit_(handshake_limit) {}

std::unique_ptr<Connection> TlsListener::accept_now(std::error_code& ec) {
  std::unique_ptr<Connection> client = carrier_->accept_now(ec);
  if (!client) return nullptr;
  SSL* ssl = context_->new_server_ssl(client->descriptor());
  if (!ssl) {
    ec = std::make_error_code(std::errc::not_enough_memory);
    return nullptr;
  }
  return std::make_unique<TlsConnection>(std::move(client), ssl, handshake_limit_);
}

}  // namespace sockcat
