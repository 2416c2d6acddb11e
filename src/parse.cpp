#include "parse.hpp"

#include "diag.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <netdb.h>
#include <vector>

namespace sockcat {
namespace {

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Returns `c` with ASCII A-Z turned into a-z.
char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Levenshtein distance between two short names, ignoring ASCII case.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (ascii_lower(a[i - 1]) == ascii_lower(b[j - 1]) ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string printable(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string result;
  result.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      result += "\\x";
      result += hex[byte >> 4];
      result += hex[byte & 0xf];
    } else {
      result += c;
    }
  }
  return result;
}

std::string quote(std::string_view text) {
  std::string result(1, '\'');
  result += printable(text);
  result += '\'';
  return result;
}

Parsed<std::uint16_t> parse_port(std::string_view text, bool udp) {
  std::string quoted = quote(text);
  if (text.empty()) return std::string("empty port");
  if (all_digits(text)) {
    unsigned long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value > 65535)
      return "port " + quoted + " is out of range 0-65535";
    return static_cast<std::uint16_t>(value);
  }
  if (text[0] == '-' || text[0] == '+') return "port " + quoted + " is out of range 0-65535";
  std::string name(text);
  const servent* entry = ::getservbyname(name.c_str(), udp ? "udp" : "tcp");
  if (entry == nullptr) return "port " + quoted + " is neither a number nor a known service name";
  return static_cast<std::uint16_t>(ntohs(static_cast<std::uint16_t>(entry->s_port)));
}

std::string format_host_port(const std::string& host, const std::string& port) {
  return host.find(':') != std::string::npos ? "[" + host + "]:" + port : host + ":" + port;
}

Parsed<HostPort> parse_host_port(std::string_view text, std::optional<std::uint16_t> default_port, bool udp) {
  const std::string shape = default_port ? "HOST[:PORT]" : "HOST:PORT";
  HostPort parsed;
  std::string_view rest;  // what follows the host: "" or ":PORT"
  if (!text.empty() && text.front() == '[') {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos) return quote(text) + ": '[' without ']' (write [IPV6]:PORT)";
    parsed.host = std::string(text.substr(1, close - 1));
    rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return quote(text) + ": expected ':' after ']' (write [IPV6]:PORT)";
  } else {
    std::size_t colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos)
      return quote(text) + ": write an IPv6 address in brackets, as [IPV6]:PORT";
    parsed.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) rest = text.substr(colon);
  }
  if (parsed.host.empty()) return quote(text) + ": no host (expected " + shape + ")";
  if (rest.empty()) {
    if (!default_port) return quote(text) + ": no port (expected " + shape + ")";
    parsed.port = *default_port;
    return parsed;
  }
  parsed.port_text = std::string(rest.substr(1));
  if (parsed.port_text.empty()) return quote(text) + ": empty port (expected " + shape + ")";
  Parsed<std::uint16_t> port = parse_port(parsed.port_text, udp);
  if (auto* problem = std::get_if<std::string>(&port)) return quote(text) + ": " + *problem;
  parsed.port = std::get<std::uint16_t>(port);
  if (parsed.port == 0) return quote(text) + ": port 0 cannot be connected to";
  return parsed;
}

Parsed<std::vector<std::uint16_t>> parse_port_list(std::string_view text, bool udp) {
  std::vector<std::uint16_t> ports;
  std::vector<bool> seen(65536, false);
  if (text.empty()) return std::string("empty port list");
  while (true) {
    std::size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    // A dash inside a numeric item makes a range; service names may contain dashes themselves.
    std::size_t dash = item.find('-');
    bool numeric_range = dash != std::string_view::npos && dash > 0 && all_digits(item.substr(0, dash)) &&
                         all_digits(item.substr(dash + 1));
    std::uint16_t first = 0;
    std::uint16_t last = 0;
    for (int end = 0; end < 2; ++end) {
      std::string_view bound = numeric_range ? (end == 0 ? item.substr(0, dash) : item.substr(dash + 1)) : item;
      Parsed<std::uint16_t> port = parse_port(bound, udp);
      if (auto* problem = std::get_if<std::string>(&port)) return *problem;
      (end == 0 ? first : last) = std::get<std::uint16_t>(port);
    }
    if (first == 0 || last == 0) return std::string("port 0 cannot be checked");
    if (first > last) return "port range " + quote(item) + " is out of order";
    for (std::uint32_t port = first; port <= last; ++port) {
      if (!seen[port]) ports.push_back(static_cast<std::uint16_t>(port));
      seen[port] = true;
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return ports;
}

Parsed<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::string quoted = quote(text);
  size_t number_end = 0;
  while (number_end < text.size() && ((text[number_end] >= '0' && text[number_end] <= '9') || text[number_end] == '.'))
    ++number_end;
  std::string_view number = text.substr(0, number_end);
  std::string_view unit = text.substr(number_end);
  if (number.empty() || number == "." || std::count(number.begin(), number.end(), '.') > 1)
    return "duration " + quoted + " is not a number followed by ms, s, m or h";
  double milliseconds_per_unit = 0;
  if (unit.empty() || unit == "s") milliseconds_per_unit = 1000;
  else if (unit == "ms") milliseconds_per_unit = 1;
  else if (unit == "m") milliseconds_per_unit = 60'000;
  else if (unit == "h") milliseconds_per_unit = 3'600'000;
  else return "duration " + quoted + " has an unknown unit (use ms, s, m or h)";
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size())
    return "duration " + quoted + " is not a number followed by ms, s, m or h";
  double total = std::round(value * milliseconds_per_unit);
  if (!(total <= 1e12)) return "duration " + quoted + " is too long";  // ~31 years
  return std::chrono::milliseconds(static_cast<long long>(total));
}

Parsed<std::size_t> parse_byte_size(std::string_view text, std::size_t largest) {
  std::size_t digits_end = 0;
  while (digits_end < text.size() && text[digits_end] >= '0' && text[digits_end] <= '9') ++digits_end;
  std::string_view suffix = text.substr(digits_end);
  std::uint64_t multiplier = 0;
  if (suffix.empty()) multiplier = 1;
  else if (suffix == "K" || suffix == "k") multiplier = 1024;
  else if (suffix == "M") multiplier = 1024 * 1024;
  else if (suffix == "G") multiplier = 1024 * 1024 * 1024;
  if (digits_end == 0 || multiplier == 0)
    return "size " + quote(text) + " is not a number of bytes (optionally followed by K, M or G)";
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits_end, value);
  if (ec != std::errc() || value > largest / multiplier || value * multiplier > largest)
    return "size " + quote(text) + " is over the limit of " + diag::count_of(largest, "byte");
  if (value == 0) return "size " + quote(text) + " must be at least 1 byte";
  return static_cast<std::size_t>(value * multiplier);
}

std::optional<std::string_view> closest_name(std::string_view typo,
                                             std::span<const std::string_view> names) {
  std::optional<std::string_view> best;
  size_t best_distance = 0;
  for (std::string_view name : names) {
    size_t distance = edit_distance(typo, name);
    if (!best || distance < best_distance) {
      best = name;
      best_distance = distance;
    }
  }
  if (!best) return std::nullopt;
  size_t allowed = std::max<size_t>(1, best->size() / 3);
  if (best_distance > allowed) return std::nullopt;
  return best;
}

std::string format_duration(std::chrono::milliseconds duration) {
  if (duration.count() % 1000 == 0) return std::to_string(duration.count() / 1000) + "s";
  return std::to_string(duration.count()) + "ms";
}

std::string idle_timeout_message(std::chrono::milliseconds idle) {
  return "idle timeout: nothing sent or received for " + format_duration(idle);
}

}  // namespace sockcat
