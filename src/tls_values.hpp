// The TLS values sockcat reads itself (the rest OpenSSL parses): a certificate pin, an ALPN
// protocol list and a minimum version, and the fingerprint form --ssl-pin takes. Pure code,
// no OpenSSL, so the fuzz targets exercise it alone.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "parse.hpp"

namespace sockcat {

// A SHA-256 digest: of a certificate's DER encoding, for --ssl-pin.
using Sha256 = std::array<std::uint8_t, 32>;

// Parses --ssl-pin: 64 hex digits, either case, each pair optionally followed by one colon
// (as `openssl x509 -noout -fingerprint -sha256` prints it, with or without its
// "sha256 Fingerprint=" prefix). Anything else is an error naming the problem.
Parsed<Sha256> parse_pin(std::string_view text);

// The fingerprint form parse_pin reads and `openssl x509 -fingerprint` prints: upper-case hex
// pairs joined by colons ("AB:CD:...", 95 characters for SHA-256).
std::string format_fingerprint(std::span<const std::uint8_t> digest);

// An ALPN protocol list in its wire form: each name preceded by its length byte, order kept.
struct AlpnList {
  std::string wire;
};

// Parses --ssl-alpn: comma-separated protocol names ("h2,http/1.1"), each 1 to 255 bytes of
// printable ASCII, no blanks.
Parsed<AlpnList> parse_alpn_list(std::string_view text);

// The lowest TLS version a side accepts (--ssl-min-version).
enum class TlsVersion { tls1_2, tls1_3 };

// Parses --ssl-min-version: "1.2" or "1.3".
Parsed<TlsVersion> parse_tls_version(std::string_view text);

}  // namespace sockcat
