// Parsers for the small values on the command line: ports, durations, names from a table.
// Each returns the value or an error text fit to follow "sockcat: "; none throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sockcat {

// A parsed value, or the one-line reason it could not be parsed.
template <typename T>
using Parsed = std::variant<T, std::string>;

// Returns `text` with control bytes (newline, escape, DEL...) written as \xNN, so that text
// from the command line or the network can never break a diagnostic into several lines.
std::string printable(std::string_view text);

// Returns printable(text) between single quotes, for naming user input in a message.
std::string quote(std::string_view text);

// Parses a port: decimal 0-65535, or a service name looked up for "tcp" or "udp".
Parsed<std::uint16_t> parse_port(std::string_view text, bool udp);

// A HOST:PORT pair as the command line wrote it (--forward, --proxy).
struct HostPort {
  std::string host;       // as written, without an IPv6 address's brackets
  std::string port_text;  // the port as written ("" when the default was used)
  std::uint16_t port = 0;
};

// HOST:PORT as parse_host_port reads it back: an IPv6 address in brackets ("[::1]:1080").
std::string format_host_port(const std::string& host, const std::string& port);

// Parses HOST:PORT, [IPV6]:PORT, or HOST alone when `default_port` is given (then [IPV6] needs
// its brackets only with a port). The port is read as parse_port reads it; port 0 is refused.
// A host with a colon outside brackets, an empty host and an empty port are errors.
Parsed<HostPort> parse_host_port(std::string_view text, std::optional<std::uint16_t> default_port, bool udp);

// Parses a list of ports for a port check: comma-separated ports and ranges, e.g.
// "22,80,8000-8100" (each bound as parse_port takes it). Ranges must be in order; ports are
// returned in the order given, duplicates dropped. Port 0 is refused.
Parsed<std::vector<std::uint16_t>> parse_port_list(std::string_view text, bool udp);

// Parses a duration: a decimal number with an optional fraction and a unit of ms, s, m or h
// (no unit means seconds). Negative, empty, unknown units and overflow are errors.
Parsed<std::chrono::milliseconds> parse_duration(std::string_view text);

// A duration as parse_duration reads it back: "2s" for whole seconds, "1500ms" otherwise.
std::string format_duration(std::chrono::milliseconds duration);

// The line (without "sockcat: ") of a session that -i ended: "idle timeout: nothing sent or
// received for 1s".
std::string idle_timeout_message(std::chrono::milliseconds idle);

// Parses a size in bytes: a decimal number with an optional suffix K, M or G (binary: K is
// 1024), from 1 to `largest` bytes. Fractions, zero, unknown suffixes and overflow are errors.
Parsed<std::size_t> parse_byte_size(std::string_view text, std::size_t largest);

// Returns the entry of `names` closest to `typo` by edit distance, if it is close enough
// to be a plausible misspelling (distance at most a third of the name, and at least 1).
// Case is ignored in the comparison, so that "REVERSE" suggests "reverse".
std::optional<std::string_view> closest_name(std::string_view typo,
                                             std::span<const std::string_view> names);

}  // namespace sockcat
