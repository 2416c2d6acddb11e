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
namespace {

// The most one SSL_write is given: one TLS record's worth of plaintext.
constexpr std::size_t record_size = 16 * 1024;

}  // namespace

TlsConnection::TlsConnection(std::unique_ptr<Connection> carrier, SSL* ssl, std::chrono::milliseconds handshake_limit)
    : Connection(carrier->remote(), carrier->peer()),
      carrier_(std::move(carrier)),
      ssl_(ssl),
      verify_failure_(std::make_unique<VerifyFailure>()),
      handshake_deadline_(std::chrono::steady_clock::now() + handshake_limit) {
  SSL_set_app_data(ssl_, verify_failure_.get());
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
    co_return co_await wait_carrier(read_wants_);
  }
  if (what == Readiness::writable) co_return co_await wait_carrier(close_notify_owed_ ? Readiness::writable : write_wants_);
  co_return co_await wait_carrier(Readiness::failed);
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
    if (close_notify_owed_) {  // this read may have finished the handshake; our reads never wait for room
      std::error_code ignored;
      send_owed_close_notify(ignored);
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
  std::size_t total = 0;
  while (total < from.size()) {
    std::size_t chunk = std::min(from.size() - total, record_size);
    if (chunk < write_pending_) {  // OpenSSL's rule broken: the caller did not retry with the same bytes
      ec = asio::error::invalid_argument;
      return total;
    }
    ERR_clear_error();
    std::size_t written = 0;
    int result = SSL_write_ex(ssl_, from.data() + total, chunk, &written);
    const int call_errno = errno;
    note_handshake_done();
    if (result != 1) {
      ec = failure(result, call_errno, write_wants_);
      if (!would_block(ec)) return total;
      write_pending_ = chunk;
      if (total > 0) ec.clear();
      return total;
    }
    write_pending_ = 0;
    write_wants_ = Readiness::writable;
    total += written;
  }
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
  if (close_notify_sent_) return;
  if (failed_) {  // no close_notify after a fatal error: TCP's FIN only
    carrier_->shutdown_send(ec);
    return;
  }
  close_notify_owed_ = true;
  send_owed_close_notify(ec);
}

void TlsConnection::send_owed_close_notify(std::error_code& ec) {
  if (!close_notify_owed_ || !handshake_done_ || write_pending_ > 0) return;
  ERR_clear_error();
  int result = SSL_shutdown(ssl_);
  if (result < 0) {
    ec = failure(result, errno, write_wants_);  // would_block: the alert waits for room
    return;
  }
  close_notify_owed_ = false;
  close_notify_sent_ = true;
  carrier_->shutdown_send(ec);
}

void TlsConnection::close() {
  if (closed_) return;
  if (!failed_ && !close_notify_sent_ && write_pending_ == 0 && handshake_done_) {
    ERR_clear_error();
    if (SSL_shutdown(ssl_) >= 0) close_notify_sent_ = true;
    ERR_clear_error();
  }
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
    if (result == 1) {
      note_handshake_done();
      co_return std::error_code();
    }
    Readiness wants = Readiness::readable;
    std::error_code ec = failure(result, errno, wants);
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
