#include "tls_context.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <asio/ip/address.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "diag.hpp"
#include "parse.hpp"

namespace sockcat {
namespace {

class TlsCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tls"; }
  std::string message(int value) const override {
    switch (value) {
      case static_cast<int>(TlsError::handshake_timeout):
        return "TLS handshake not finished in time (--ssl-handshake-timeout)";
      case static_cast<int>(TlsError::handshake_closed):
        return "closed during the TLS handshake";
      case static_cast<int>(TlsError::truncated):
        return "closed without TLS close_notify: what arrived may be truncated";
      default:
        if (value > verify_error_base)
          return std::string("certificate refused: ") + X509_verify_cert_error_string(value - verify_error_base);
        return "TLS error " + std::to_string(value);
    }
  }
};

// What a memory BIO holds, as a string (empty for a null BIO).
std::string drain(BIO* bio) {
  if (!bio) return {};
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string text(data, size > 0 ? static_cast<std::size_t>(size) : 0);
  BIO_free(bio);
  return text;
}

// A distinguished name on one line, RFC 2253 style ("CN=localhost,O=Example").
std::string one_line(const X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio) X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  return drain(bio);
}

// A certificate time as OpenSSL prints it ("Jan  2 00:00:00 2020 GMT").
std::string time_text(const ASN1_TIME* time) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio) ASN1_TIME_print(bio, time);
  return drain(bio);
}

// The subject alternative names of `cert`: "DNS:localhost, IP:127.0.0.1" ("" when none).
std::string alternative_names(X509* cert) {
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return {};
  std::string text;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    std::string one;
    if (name->type == GEN_DNS) {
      one = "DNS:" + printable(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.dNSName)),
                                                ASN1_STRING_length(name->d.dNSName)));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      char buffer[INET6_ADDRSTRLEN] = "?";
      int family = ASN1_STRING_length(ip) == 4 ? AF_INET : ASN1_STRING_length(ip) == 16 ? AF_INET6 : 0;
      if (family) ::inet_ntop(family, ASN1_STRING_get0_data(ip), buffer, sizeof buffer);
      one = std::string("IP:") + buffer;
    } else {
      continue;
    }
    text += (text.empty() ? "" : ", ") + one;
  }
  GENERAL_NAMES_free(names);
  return text;
}

// OpenSSL's verify callback: records the first refused certificate in the connection's
// VerifyFailure (the SSL's app data), and refuses.
int record_refusal(int preverified, X509_STORE_CTX* store) {
  if (preverified) return 1;
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* failure = ssl ? static_cast<VerifyFailure*>(SSL_get_app_data(ssl)) : nullptr;
  if (failure && failure->error == 0) {
    failure->error = X509_STORE_CTX_get_error(store);
    if (X509* cert = X509_STORE_CTX_get_current_cert(store)) {
      failure->subject = one_line(X509_get_subject_name(cert));
      failure->issuer = one_line(X509_get_issuer_name(cert));
      failure->not_before = time_text(X509_get0_notBefore(cert));
      failure->not_after = time_text(X509_get0_notAfter(cert));
      failure->names = alternative_names(cert);
    }
  }
  return 0;
}

// The server's ALPN choice: the first protocol of ours that the client offers; no agreement
// when the client offered protocols but none of ours is a fatal no_application_protocol alert.
int choose_protocol(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* offered,
                    unsigned int offered_length, void* ours) {
  const auto& wire = *static_cast<const std::string*>(ours);
  unsigned char* chosen = nullptr;
  int result = SSL_select_next_proto(&chosen, out_length, reinterpret_cast<const unsigned char*>(wire.data()),
                                     static_cast<unsigned int>(wire.size()), offered, offered_length);
  if (result != OPENSSL_NPN_NEGOTIATED) return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

// Throws "OPTION: cannot read 'PATH': reason" unless `path` can be opened for reading.
void check_readable(const std::string& option, const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "r");
  if (!file) throw std::runtime_error(std::string(option) + ": cannot read " + quote(path) + ": " + std::strerror(errno));
  std::fclose(file);
}

// Splits --ssl-ciphers into TLS 1.3 suites ("TLS_...") and the cipher list of TLS 1.2 and
// below, and gives each to OpenSSL; throws when OpenSSL knows none of a part.
void set_ciphers(SSL_CTX* context, const std::string& list) {
  std::string suites, classic;
  std::size_t at = 0;
  while ((at = list.find_first_not_of(":, ", at)) != std::string::npos) {
    std::size_t end = list.find_first_of(":, ", at);
    std::string name = list.substr(at, end - at);
    std::string& part = name.rfind("TLS_", 0) == 0 ? suites : classic;
    part += (part.empty() ? "" : ":") + name;
    at = end;
  }
  bool ok = (suites.empty() || SSL_CTX_set_ciphersuites(context, suites.c_str()) == 1) &&
            (classic.empty() || SSL_CTX_set_cipher_list(context, classic.c_str()) == 1);
  ERR_clear_error();
  if (!ok || (suites.empty() && classic.empty()))
    throw std::runtime_error("--ssl-ciphers: OpenSSL knows no cipher in " + quote(list));
}

// OpenSSL's pass-phrase callback: none is given (never a prompt on the terminal), so an
// encrypted key does not load.
int no_pass_phrase(char*, int, int, void*) { return 0; }

// Loads our certificate chain and its key (from the certificate's file when --ssl-key is not given).
void use_certificate(SSL_CTX* context, const TlsOptions& tls) {
  SSL_CTX_set_default_passwd_cb(context, no_pass_phrase);
  const std::string& key_file = tls.key_file.empty() ? tls.cert_file : tls.key_file;
  const char* key_option = tls.key_file.empty() ? "--ssl-cert" : "--ssl-key";
  check_readable("--ssl-cert", tls.cert_file);
  check_readable(key_option, key_file);
  if (SSL_CTX_use_certificate_chain_file(context, tls.cert_file.c_str()) != 1) {
    ERR_clear_error();
    throw std::runtime_error("--ssl-cert: no PEM certificate in " + quote(tls.cert_file));
  }
  if (SSL_CTX_use_PrivateKey_file(context, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    ERR_clear_error();
    throw std::runtime_error(std::string(key_option) + ": no unencrypted PEM private key in " + quote(key_file) +
                             (tls.key_file.empty() ? " (give the key with --ssl-key)" : ""));
  }
  if (SSL_CTX_check_private_key(context) != 1) {
    ERR_clear_error();
    throw std::runtime_error(std::string(key_option) + ": the key in " + quote(key_file) +
                             " does not match the certificate in " + quote(tls.cert_file));
  }
}

// Makes a temporary self-signed ECDSA P-256 certificate for a listener without --ssl-cert
// and uses it; returns its SHA-256 fingerprint. P-256: its key is made in about 0.15 ms
// (RSA 2048 takes hundreds), and every TLS 1.2 and 1.3 client takes ECDSA.
std::string use_temporary_certificate(SSL_CTX* context) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  BIGNUM* serial = BN_new();
  bool ok = key && cert && serial && X509_set_version(cert, 2) == 1 && BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
            BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert)) && X509_gmtime_adj(X509_getm_notBefore(cert), -3600) &&
            X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 24 * 3600);
  X509_NAME* name = ok ? X509_get_subject_name(cert) : nullptr;
  ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                        reinterpret_cast<const unsigned char*>("sockcat temporary certificate"), -1,
                                        -1, 0) == 1 &&
       X509_set_issuer_name(cert, name) == 1 && X509_set_pubkey(cert, key) == 1 &&
       X509_sign(cert, key, EVP_sha256()) > 0 && SSL_CTX_use_certificate(context, cert) == 1 &&
       SSL_CTX_use_PrivateKey(context, key) == 1;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  ok = ok && X509_digest(cert, EVP_sha256(), digest, &length) == 1;
  BN_free(serial);
  X509_free(cert);
  EVP_PKEY_free(key);
  ERR_clear_error();
  if (!ok) throw std::runtime_error("--ssl: cannot make a temporary certificate (give one with --ssl-cert)");
  return format_fingerprint(std::span<const std::uint8_t>(digest, length));
}

// Whether `name` is an IP address literal (checked against the certificate's IP names, never sent as SNI).
bool is_ip_literal(const std::string& name) {
  std::error_code ec;
  asio::ip::make_address(name, ec);
  return !ec;
}

// The reason a refused certificate gives, naming what was wrong with which certificate.
// `option` is the stem of the options that could change the outcome (--ssl, --forward-ssl).
std::string describe_refusal(const VerifyFailure& failure, const std::string& expected_name, const std::string& option) {
  const std::string subject = failure.subject.empty() ? "the certificate" : "'" + failure.subject + "'";
  switch (failure.error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "certificate has expired: " + subject + " was valid until " + failure.not_after;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "certificate is not yet valid: " + subject + " is valid from " + failure.not_before;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "certificate for " + (failure.names.empty() ? subject : failure.names) + " does not match " +
             expected_name + " (" + option + "-servername names another)";
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return "self-signed certificate " + subject +
             " is not trusted (trust it with " + option + "-trustfile, or pin it with " + option + "-pin)";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return "certificate issuer is not trusted: " + subject + " is signed by '" + failure.issuer +
             "', which is not in the trust store (" + option + "-trustfile, or the system's)";
    default:
      return std::string("certificate refused: ") + X509_verify_cert_error_string(failure.error) + " (" + subject + ")";
  }
}

}  // namespace

const std::error_category& tls_category() {
  static const TlsCategory category;
  return category;
}

std::error_code make_error_code(TlsError error) { return {static_cast<int>(error), tls_category()}; }

std::error_code verify_error(long x509_error) {
  return {verify_error_base + static_cast<int>(x509_error), tls_category()};
}

TlsContext::TlsContext(const Options& options)
    : context_(options.role == Role::listen ? asio::ssl::context::tls_server : asio::ssl::context::tls_client),
      tls_(options.tls),
      expected_name_(options.tls.server_name.empty() ? options.host : options.tls.server_name) {
  SSL_CTX* context = context_.native_handle();
  SSL_CTX_set_min_proto_version(context, tls_.min_version == TlsVersion::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
  // Idle connections hold no buffers; a write may be retried from another address, and
  // returns once a record has gone; renegotiation (TLS 1.2) never starts behind a read.
  SSL_CTX_set_mode(context, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                                SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION);
  // Read what the socket has, up to four full records at a time, not a record's header and
  // body in two calls; the buffer exists only while it holds bytes (RELEASE_BUFFERS).
  SSL_CTX_set_read_ahead(context, 1);
  SSL_CTX_set_default_read_buffer_len(context, 4 * (SSL3_RT_MAX_PLAIN_LENGTH + SSL3_RT_MAX_ENCRYPTED_OVERHEAD));
  // Each connection is one session: no session cache, and a server sends no tickets.
  SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
  if (!tls_.ciphers.empty()) set_ciphers(context, tls_.ciphers);
  if (options.role == Role::listen) {
    if (!tls_.cert_file.empty()) {
      use_certificate(context, tls_);
    } else {
      std::string fingerprint = use_temporary_certificate(context);
      diag::info(1, "TLS: temporary certificate (ECDSA P-256, self-signed), SHA-256 " + fingerprint);
    }
    SSL_CTX_set_num_tickets(context, 0);
    if (tls_.verify_clients) {
      check_readable(tls_.option + "-trustfile", tls_.trust_file);
      if (SSL_CTX_load_verify_locations(context, tls_.trust_file.c_str(), nullptr) != 1) {
        ERR_clear_error();
        throw std::runtime_error(tls_.option + "-trustfile: no PEM certificate in " + quote(tls_.trust_file));
      }
      SSL_CTX_set_client_CA_list(context, SSL_load_client_CA_file(tls_.trust_file.c_str()));
      SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, record_refusal);
    }
    if (!tls_.alpn.empty()) SSL_CTX_set_alpn_select_cb(context, choose_protocol, const_cast<std::string*>(&tls_.alpn));
    ERR_clear_error();
    return;
  }
  if (!tls_.cert_file.empty()) use_certificate(context, tls_);
  if (!tls_.insecure && !tls_.pin) {
    if (!tls_.trust_file.empty()) {
      check_readable(tls_.option + "-trustfile", tls_.trust_file);
      if (SSL_CTX_load_verify_locations(context, tls_.trust_file.c_str(), nullptr) != 1) {
        ERR_clear_error();
        throw std::runtime_error(tls_.option + "-trustfile: no PEM certificate in " + quote(tls_.trust_file));
      }
    } else if (SSL_CTX_set_default_verify_paths(context) != 1) {
      ERR_clear_error();
      throw std::runtime_error("--ssl: cannot load the system's trusted certificates (install ca-certificates)");
    }
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, record_refusal);
  }
  if (!tls_.alpn.empty())
    SSL_CTX_set_alpn_protos(context, reinterpret_cast<const unsigned char*>(tls_.alpn.data()),
                            static_cast<unsigned int>(tls_.alpn.size()));
  ERR_clear_error();
}

SSL* TlsContext::new_server_ssl(int fd) const {
  SSL* ssl = SSL_new(const_cast<asio::ssl::context&>(context_).native_handle());
  if (!ssl) return nullptr;
  SSL_set_fd(ssl, fd);
  SSL_set_accept_state(ssl);
  return ssl;
}

SSL* TlsContext::new_client_ssl(int fd) const {
  SSL* ssl = SSL_new(const_cast<asio::ssl::context&>(context_).native_handle());
  if (!ssl) return nullptr;
  SSL_set_fd(ssl, fd);
  SSL_set_connect_state(ssl);
  const std::string& name = expected_name_;
  if (!name.empty() && !is_ip_literal(name)) SSL_set_tlsext_host_name(ssl, name.c_str());
  if (!tls_.insecure && !tls_.pin && !name.empty()) {
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (is_ip_literal(name))
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
    else
      SSL_set1_host(ssl, name.c_str());
  }
  ERR_clear_error();
  return ssl;
}

std::string describe_handshake_failure(const std::error_code& ec, const VerifyFailure& failure,
                                       const std::string& expected_name, const std::string& option) {
  if (failure.error != 0) return describe_refusal(failure, expected_name, option);
  if (ec.category() == asio::error::get_ssl_category()) {
    const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
    std::string text = reason ? reason : "error " + std::to_string(ec.value());
    if (std::size_t alert = text.find("alert "); alert != std::string::npos)
      return "the peer refused the handshake: " + text.substr(alert);
    return "handshake failed: " + text + (text == "wrong version number" ? " (does the peer speak TLS?)" : "");
  }
  return ec.message();
}

std::string peer_fingerprint(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!cert || X509_digest(cert, EVP_sha256(), digest, &length) != 1) return {};
  return format_fingerprint(std::span<const std::uint8_t>(digest, length));
}

bool peer_matches_pin(SSL* ssl, const Sha256& pin) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!cert || X509_digest(cert, EVP_sha256(), digest, &length) != 1 || length != pin.size()) return false;
  return std::memcmp(digest, pin.data(), pin.size()) == 0;
}

std::string describe_session(SSL* ssl) {
  std::string version = SSL_get_version(ssl);
  if (version.rfind("TLSv", 0) == 0) version = "TLS " + version.substr(4);
  std::string text = version + " (" + SSL_get_cipher_name(ssl) + ")";
  const unsigned char* protocol = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl, &protocol, &length);
  if (length > 0) text += ", ALPN " + printable(std::string_view(reinterpret_cast<const char*>(protocol), length));
  return text;
}

}  // namespace sockcat
