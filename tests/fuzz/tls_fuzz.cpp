// libFuzzer target: the TLS values sockcat parses itself. The first byte picks the parser.
// Invariants: no crash; a parsed pin printed by format_fingerprint parses back to itself; an
// ALPN list's wire form is a sequence of length-prefixed names, each 1-255 bytes, holding
// exactly the names of the input in order; a rejected value always says why.
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

#include "tls_values.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto pin = sockcat::parse_pin(text);
      if (auto* digest = std::get_if<sockcat::Sha256>(&pin)) {
        auto again = sockcat::parse_pin(sockcat::format_fingerprint(*digest));
        if (!std::holds_alternative<sockcat::Sha256>(again) || std::get<sockcat::Sha256>(again) != *digest)
          __builtin_trap();
      } else if (std::get<std::string>(pin).empty()) {
        __builtin_trap();
      }
      break;
    }
    case 1: {
      auto list = sockcat::parse_alpn_list(text);
      if (auto* alpn = std::get_if<sockcat::AlpnList>(&list)) {
        std::string joined;
        std::size_t at = 0;
        while (at < alpn->wire.size()) {
          std::size_t length = static_cast<unsigned char>(alpn->wire[at]);
          if (length == 0 || at + 1 + length > alpn->wire.size()) __builtin_trap();
          joined += (joined.empty() ? "" : ",") + alpn->wire.substr(at + 1, length);
          at += 1 + length;
        }
        if (joined != text) __builtin_trap();
      } else if (std::get<std::string>(list).empty()) {
        __builtin_trap();
      }
      break;
    }
    default: {
      auto version = sockcat::parse_tls_version(text);
      if (auto* problem = std::get_if<std::string>(&version); problem && problem->empty()) __builtin_trap();
      break;
    }
  }
  return 0;
}
