// The OpenSSL side of --ssl: one context per run, built from the options (certificates, trust,
// versions, ciphers, ALPN), and the words of a refusal. The connections themselves live in
// transport/tls_connection.hpp.
#pragma once

#include <asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <system_error>

#include "options.hpp"

namespace sockcat {

// The ways a TLS connection fails that OpenSSL has no code for (in tls_category()).
enum class TlsError {
  handshake_timeout = 1,  // the handshake did not finish within its time limit
  handshake_closed,       // the peer closed (TCP) during the handshake
  truncated,              // the peer closed (TCP) without close_notify: what arrived may be cut short
};

// The category of TlsError values, and of refused certificates: a value above
// verify_error_base is X509_V_ERR_* plus that base ("certificate refused: certificate has expired").
const std::error_category& tls_category();
inline constexpr int verify_error_base = 1000;

// The error_code of a TlsError.
std::error_code make_error_code(TlsError error);

// The error_code of a certificate our verification refused (X509_V_ERR_* `x509_error`).
std::error_code verify_error(long x509_error);

// The first certificate our verification refused on one connection, recorded while OpenSSL
// checks the chain, so that the refusal can say exactly what was wrong with which certificate.
struct VerifyFailure {
  int error = 0;           // X509_V_ERR_*; 0 while nothing was refused
  std::string subject;     // the refused certificate's subject, one line ("CN=localhost")
  std::string issuer;      // its issuer
  std::string not_before;  // its validity, as OpenSSL prints a time ("Jan  2 00:00:00 2020 GMT")
  std::string not_after;
  std::string names;       // its subject alternative names ("DNS:localhost, IP:127.0.0.1")
};

// One run's OpenSSL context, for the side options.role plays. A server's certificate is
// --ssl-cert's, or a temporary ECDSA P-256 one made here (its fingerprint said under -v).
class TlsContext {
 public:
  // Builds it; throws std::runtime_error with one line for a file that cannot be read or does
  // not hold what it should, a key that does not match, or a cipher list OpenSSL rejects.
  explicit TlsContext(const Options& options);

  // A new server connection's OpenSSL object on socket `fd` (the caller frees it).
  SSL* new_server_ssl(int fd) const;

  // A new client connection's OpenSSL object on socket `fd`, sending SNI and verifying as
  // options say (the caller frees it; its app data must point to a VerifyFailure before the
  // handshake, where the verification records a refusal).
  SSL* new_client_ssl(int fd) const;

  // The name a client verifies and sends as SNI: --ssl-servername, or the host ("" under -U
  // without --ssl-servername).
  const std::string& expected_name() const { return expected_name_; }

 private:
  asio::ssl::context context_;
  const TlsOptions& tls_;
  std::string expected_name_;
};

// The reason (without "sockcat: " or a peer) that a client handshake failed with `ec`:
// "certificate has expired (...)", "the peer refused the handshake: alert protocol version".
// `option` is the stem of the options a refusal points to (TlsOptions::option).
std::string describe_handshake_failure(const std::error_code& ec, const VerifyFailure& failure,
                                       const std::string& expected_name, const std::string& option);

// The SHA-256 fingerprint of a connection's peer certificate, "" when it sent none.
std::string peer_fingerprint(SSL* ssl);

// Whether the peer's certificate has the SHA-256 digest `pin`.
bool peer_matches_pin(SSL* ssl, const Sha256& pin);

// "TLS 1.3 (TLS_AES_256_GCM_SHA384)", with ", ALPN h2" when one was agreed: what a handshake settled.
std::string describe_session(SSL* ssl);

}  // namespace sockcat

// Lets a TlsError be compared with an error_code (ec == TlsError::truncated).
template <>
struct std::is_error_code_enum<sockcat::TlsError> : std::true_type {};
