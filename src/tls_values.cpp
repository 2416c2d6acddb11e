#include "tls_values.hpp"

namespace sockcat {
namespace {

// The value of one hex digit, or -1.
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `text` without a leading `prefix`, compared without regard to case.
std::string_view without_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return text;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return text;
  }
  return text.substr(prefix.size());
}

}  // namespace

Parsed<Sha256> parse_pin(std::string_view text) {
  const std::string problem = "--ssl-pin: " + quote(text) + " is not a SHA-256 fingerprint (64 hex digits, colons allowed)";
  std::string_view digits = without_prefix(without_prefix(text, "sha256 fingerprint="), "sha256:");
  Sha256 digest{};
  std::size_t at = 0;
  for (std::size_t byte = 0; byte < digest.size(); ++byte) {
    if (byte > 0 && at < digits.size() && digits[at] == ':') ++at;
    if (at + 2 > digits.size()) return problem;
    int high = hex_value(digits[at]);
    int low = hex_value(digits[at + 1]);
    if (high < 0 || low < 0) return problem;
    digest[byte] = static_cast<std::uint8_t>(high * 16 + low);
    at += 2;
  }
  if (at != digits.size()) return problem;
  return digest;
}

std::string format_fingerprint(std::span<const std::uint8_t> digest) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string text;
  for (std::uint8_t byte : digest) {
    if (!text.empty()) text += ':';
    text += hex[byte >> 4];
    text += hex[byte & 0xf];
  }
  return text;
}

Parsed<AlpnList> parse_alpn_list(std::string_view text) {
  AlpnList list;
  std::string& wire = list.wire;
  std::size_t at = 0;
  for (;;) {
    std::size_t comma = text.find(',', at);
    std::string_view name = text.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at);
    if (name.empty()) return "--ssl-alpn: empty protocol name in " + quote(text);
    if (name.size() > 255) return "--ssl-alpn: protocol name longer than 255 bytes in " + quote(text);
    for (char c : name) {
      if (c <= ' ' || c > '~') return "--ssl-alpn: " + quote(name) + " is not a protocol name (printable ASCII, no blanks)";
    }
    wire += static_cast<char>(name.size());
    wire += name;
    if (comma == std::string_view::npos) return list;
    at = comma + 1;
  }
}

Parsed<TlsVersion> parse_tls_version(std::string_view text) {
  if (text == "1.2") return TlsVersion::tls1_2;
  if (text == "1.3") return TlsVersion::tls1_3;
  return "--ssl-min-version: " + quote(text) + " is not 1.2 or 1.3";
}

}  // namespace sockcat
