// Connection and Listener over TLS: OpenSSL on the kernel socket of a carrier connection (tcp
// or unix), non-blocking, with the session code unchanged. The bytes pass through sockcat, so
// there is no descriptor to splice or hand to a child; close_notify plays the part of TCP's FIN.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "tls_context.hpp"
#include "transport/connection.hpp"

namespace sockcat {

// One TLS connection. A server's handshake runs inside its first reads and writes (so a
// client is checked against the access lists before a byte of TLS); a client's runs in
// handshake(). Either must finish within the time limit, or its waits fail with
// TlsError::handshake_timeout. OpenSSL writes its records into an outbox of ours, which goes to
// the socket in one send per write_now (up to four records): fewer, larger sends cost less
// CPU per byte than one per record. Bytes count as written only once their records are all in
// the socket, so after would_block write_now must be called again starting with the same bytes.
class TlsConnection final : public Connection {
 public:
  // Speaks TLS through `ssl` (owned; made on carrier's socket by TlsContext) over `carrier`;
  // the handshake must be over within `handshake_limit` from now.
  TlsConnection(std::unique_ptr<Connection> carrier, SSL* ssl, std::chrono::milliseconds handshake_limit);
  ~TlsConnection() override;

  // Runs the handshake to its end: no error, or why it failed (verify_failure() says more
  // when a certificate was refused).
  asio::awaitable<std::error_code> start() override;

  // The certificate verification refused on this connection, if any.
  const VerifyFailure& verify_failure() const { return *verify_failure_; }

  // The OpenSSL connection, for what the handshake settled.
  SSL* native() const { return ssl_; }

  asio::any_io_executor executor() override { return carrier_->executor(); }
  asio::awaitable<std::error_code> wait(Readiness what) override;
  std::size_t read_now(std::span<char> into, std::error_code& ec) override;
  std::size_t write_now(std::span<const char> from, std::error_code& ec) override;
  // Sends close_notify, then TCP's half-close; would_block when the socket cannot take it
  // now (wait writable and call again; end_sending() does). Before the handshake is over the
  // close_notify is owed and goes as soon as it is.
  void shutdown_send(std::error_code& ec) override;
  void cancel() override { carrier_->cancel(); }
  // Sends close_notify if nothing failed and none was sent (as far as the socket takes it
  // now), then closes.
  void close() override;
  bool is_open() const override { return !closed_ && carrier_->is_open(); }
  void send_small_writes_at_once() override { carrier_->send_small_writes_at_once(); }
  StreamEndpoint local_endpoint(std::error_code& ec) const override { return carrier_->local_endpoint(ec); }
  int descriptor() const override { return -1; }
  int release() override { return -1; }

 private:
  // The error of an OpenSSL call that returned `result`, with errno as the call left it
  // (`call_errno`: taken before anything else, -vv's line included, can change it); for
  // "would block", records in `wants` what the socket must become before the call can go on.
  std::error_code failure(int result, int call_errno, Readiness& wants);

  // Waits for the carrier to be ready for `what`, within the handshake's time limit while it runs.
  asio::awaitable<std::error_code> wait_carrier(Readiness what);

  // Sends an owed close_notify (and TCP's half-close after it) if the handshake is over.
  void send_owed_close_notify(std::error_code& ec);

  // Gives the socket what it takes now of the records in the outbox: no error once the outbox
  // is empty (its memory released), would_block while some remain, or the socket's error.
  std::error_code flush_outbox();

  // Where OpenSSL's records go (the write callback of the outbox BIO).
  void append_to_outbox(const char* data, std::size_t size) { outbox_.insert(outbox_.end(), data, data + size); }
  friend int outbox_write(BIO* bio, const char* data, int size);

  // Records that the handshake is over (OpenSSL forgets it after a fatal error) and, for a
  // server, says under -vv what it settled.
  void note_handshake_done();

  std::unique_ptr<Connection> carrier_;
  SSL* ssl_;
  std::unique_ptr<VerifyFailure> verify_failure_;  // where OpenSSL's verify callback writes (SSL app data)
  std::chrono::steady_clock::time_point handshake_deadline_;
  Readiness read_wants_ = Readiness::readable;   // what the last read needs of the socket
  Readiness write_wants_ = Readiness::writable;  // what the last write needs
  bool read_stalled_ = false;       // the last read would block: OpenSSL took everything the socket had
  std::error_code held_read_error_;  // the end a read met after bytes it returned, for the next read
  std::vector<char> outbox_;        // records made by OpenSSL that the socket has not taken yet
  std::size_t outbox_sent_ = 0;     // how much of outbox_ the socket has taken
  std::size_t write_pending_ = 0;   // plaintext bytes encrypted into the outbox, not yet reported written
  bool close_notify_owed_ = false;  // shutdown_send was asked and has not sent it yet
  bool close_notify_sent_ = false;  // made (it may still wait in the outbox)
  bool fin_owed_ = false;           // TCP's half-close goes once the outbox is empty
  bool failed_ = false;             // a fatal error: no close_notify may follow
  bool closed_ = false;
  bool handshake_done_ = false;
};

// A listener whose clients speak TLS: the carrier's listener, each connection wrapped.
class TlsListener final : public Listener {
 public:
  // Takes `carrier`, listening; `context` makes each client's OpenSSL object.
  TlsListener(std::unique_ptr<Listener> carrier, std::shared_ptr<const TlsContext> context,
              std::chrono::milliseconds handshake_limit);

  asio::awaitable<std::error_code> wait_for_client() override { return carrier_->wait_for_client(); }
  std::unique_ptr<Connection> accept_now(std::error_code& ec) override;
  void close() override { carrier_->close(); }
  bool is_open() const override { return carrier_->is_open(); }

 private:
  std::unique_ptr<Listener> carrier_;
  std::shared_ptr<const TlsContext> context_;
  std::chrono::milliseconds handshake_limit_;
};

}  // namespace sockcat
