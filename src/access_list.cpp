#include "access_list.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace sockcat {
namespace {

// `text` without leading and trailing blanks (spaces, tabs, carriage returns).
std::string_view trimmed(std::string_view text) {
  constexpr std::string_view blanks = " \t\r";
  std::size_t first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(blanks) - first + 1);
}

// Clears every bit of `range` past its prefix.
void clear_host_bits(AddressRange& range) {
  for (unsigned bit = range.prefix_length; bit < 128; ++bit)
    range.bytes[bit / 8] &= static_cast<unsigned char>(~(0x80u >> (bit % 8)));
}

// The IPv4-mapped form of the 4 bytes at `v4`.
std::array<unsigned char, 16> mapped(const unsigned char* v4) {
  std::array<unsigned char, 16> bytes{};
  bytes[10] = 0xff;
  bytes[11] = 0xff;
  std::memcpy(bytes.data() + 12, v4, 4);
  return bytes;
}

// The blanks that separate entries in a file.
constexpr std::string_view file_blanks = " \t\r\v\f";

// Parses the digits of a prefix length ("24" of "10.0.0.0/24"), at most `max_prefix`.
std::optional<unsigned> parse_prefix(std::string_view digits, unsigned max_prefix) {
  unsigned prefix = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || prefix > max_prefix)
    return std::nullopt;
  return prefix;
}

// Parses one number of an octet range, 0-255; `missing` stands for an empty `digits`.
std::optional<unsigned> parse_octet_value(std::string_view digits, unsigned missing) {
  if (digits.empty()) return missing;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size() || value > 255) return std::nullopt;
  return value;
}

// Adds to `values` the octet values `text` names: "*", "N", "N-M", "-M", "N-" or "-".
bool parse_octet(std::string_view text, std::bitset<256>& values) {
  if (text == "*") {
    values.set();
    return true;
  }
  if (text.empty()) return false;
  std::size_t dash = text.find('-');
  std::optional<unsigned> first = parse_octet_value(text.substr(0, dash), 0);
  std::optional<unsigned> last = dash == std::string_view::npos ? first : parse_octet_value(text.substr(dash + 1), 255);
  if (!first || !last || *first > *last) return false;
  for (unsigned value = *first; value <= *last; ++value) values.set(value);
  return true;
}

// True when `text` is written only with what an IPv4 address or nmap-style range uses.
bool looks_like_ipv4_range(std::string_view text) {
  return text.find_first_not_of("0123456789.-*") == std::string_view::npos;
}

// Parses an nmap-style IPv4 range ("192.168.0-255.1-254"); returns the reason when it is not one.
Parsed<OctetPattern> parse_octet_pattern(std::string_view text) {
  OctetPattern pattern;
  std::size_t octet = 0;
  for (std::size_t start = 0;; ++octet) {
    std::size_t dot = text.find('.', start);
    if (octet == 4 || !parse_octet(text.substr(start, dot - start), pattern.octets[octet])) break;
    if (dot == std::string_view::npos) {
      if (octet == 3) return pattern;
      break;
    }
    start = dot + 1;
  }
  return quote(text) + " is not an IPv4 address or range (four octets, each a number, N-M or *)";
}

// True when `text` is written as a host name: dot-separated labels of 1 to 63 letters, digits,
// '-' and '_', not starting with '-', 253 characters at most (a final dot aside).
bool is_host_name(std::string_view text) {
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);
  if (text.empty() || text.size() > 253) return false;
  for (std::size_t start = 0; start <= text.size();) {
    std::size_t dot = std::min(text.find('.', start), text.size());
    std::string_view label = text.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-') return false;
    for (char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    start = dot + 1;
  }
  return true;
}

// True when the 16-byte address `bytes` is IPv4-mapped.
bool is_mapped_v4(const std::array<unsigned char, 16>& bytes) {
  static constexpr unsigned char prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(bytes.data(), prefix, sizeof prefix) == 0;
}

}  // namespace

bool AddressRange::contains(const std::array<unsigned char, 16>& address) const {
  unsigned whole = prefix_length / 8;
  if (std::memcmp(address.data(), bytes.data(), whole) != 0) return false;
  unsigned rest = prefix_length % 8;
  if (rest == 0) return true;
  auto mask = static_cast<unsigned char>(0xff00u >> rest);
  return (address[whole] & mask) == bytes[whole];
}

Parsed<AddressRange> parse_address_range(std::string_view entry) {
  std::string_view text = trimmed(entry);
  if (text.empty()) return std::string("empty address entry");
  std::size_t slash = text.find('/');
  std::string address(text.substr(0, slash));
  AddressRange range;
  unsigned max_prefix = 128;
  unsigned char v4[4];
  if (::inet_pton(AF_INET, address.c_str(), v4) == 1) {
    range.bytes = mapped(v4);
    max_prefix = 32;
  } else if (::inet_pton(AF_INET6, address.c_str(), range.bytes.data()) != 1) {
    return quote(text) + " is not an IP address or CIDR range";
  }
  unsigned prefix = max_prefix;
  if (slash != std::string_view::npos) {
    std::optional<unsigned> parsed = parse_prefix(text.substr(slash + 1), max_prefix);
    if (!parsed)
      return "bad prefix length in " + quote(text) + " (0 to " + std::to_string(max_prefix) + " for " +
             (max_prefix == 32 ? "IPv4)" : "IPv6)");
    prefix = *parsed;
  }
  range.prefix_length = prefix + (max_prefix == 32 ? 96 : 0);
  clear_host_bits(range);
  return range;
}

bool OctetPattern::contains(const std::array<unsigned char, 16>& address) const {
  if (!is_mapped_v4(address)) return false;
  for (std::size_t octet = 0; octet < 4; ++octet)
    if (!octets[octet].test(address[12 + octet])) return false;
  return true;
}

Parsed<AccessEntry> parse_access_entry(std::string_view entry) {
  std::string_view text = trimmed(entry);
  if (text.empty()) return std::string("empty address entry");
  if (text.find(',') != std::string_view::npos)  // only from a file: the command line splits at commas
    return quote(text) + ": ',' is not accepted in an entry (separate entries with blanks; write octet lists as N-M)";
  std::size_t slash = text.find('/');
  std::string_view address = text.substr(0, slash);
  unsigned char scratch[16];
  std::string numeric(address);
  if (::inet_pton(AF_INET, numeric.c_str(), scratch) == 1 || ::inet_pton(AF_INET6, numeric.c_str(), scratch) == 1) {
    Parsed<AddressRange> range = parse_address_range(text);
    if (auto* problem = std::get_if<std::string>(&range)) return *problem;
    return std::get<AddressRange>(range);
  }
  if (address.find(':') != std::string_view::npos) return quote(text) + " is not an IPv6 address or CIDR range";
  if (looks_like_ipv4_range(address)) {
    if (slash != std::string_view::npos)
      return quote(text) + ": a prefix length applies to an address, not to a range (write one or the other)";
    Parsed<OctetPattern> pattern = parse_octet_pattern(address);
    if (auto* problem = std::get_if<std::string>(&pattern)) return *problem;
    return std::get<OctetPattern>(pattern);
  }
  if (!is_host_name(address)) return quote(text) + " is not an IP address, a range or a host name";
  HostName name{std::string(address), std::nullopt, {}};
  if (slash != std::string_view::npos) {
    name.prefix_length = parse_prefix(text.substr(slash + 1), 128);
    if (!name.prefix_length) return "bad prefix length in " + quote(text) + " (0 to 128; 32 for IPv4)";
  }
  return name;
}

std::optional<std::string> parse_entry_list(std::string_view list, std::string_view origin,
                                            std::vector<AccessEntry>& entries) {
  std::vector<AccessEntry> parsed;
  for (;;) {
    std::size_t comma = list.find(',');
    Parsed<AccessEntry> entry = parse_access_entry(list.substr(0, comma));
    if (auto* problem = std::get_if<std::string>(&entry)) return *problem;
    parsed.push_back(std::get<AccessEntry>(std::move(entry)));
    if (auto* name = std::get_if<HostName>(&parsed.back())) name->origin = origin;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  entries.insert(entries.end(), parsed.begin(), parsed.end());
  return std::nullopt;
}

void load_entry_file(const std::string& path, std::string_view option, std::vector<AccessEntry>& entries) {
  struct stat info;  // a directory opens, then reads as empty: say what it is instead
  if (::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode))
    throw std::system_error(EISDIR, std::generic_category(), "cannot read " + quote(path));
  std::ifstream file(path);
  if (!file) throw std::system_error(errno, std::generic_category(), "cannot read " + quote(path));
  std::string line;
  for (unsigned number = 1; std::getline(file, line); ++number) {
    std::string_view rest = std::string_view(line).substr(0, line.find('#'));
    std::string where = std::string(option) + " " + quote(path) + " line " + std::to_string(number);
    for (;;) {
      std::size_t start = rest.find_first_not_of(file_blanks);
      if (start == std::string_view::npos) break;
      rest.remove_prefix(start);
      std::size_t end = std::min(rest.find_first_of(file_blanks), rest.size());
      Parsed<AccessEntry> entry = parse_access_entry(rest.substr(0, end));
      rest.remove_prefix(end);
      if (auto* problem = std::get_if<std::string>(&entry))
        throw std::runtime_error(where + ": " + *problem);
      entries.push_back(std::get<AccessEntry>(std::move(entry)));
      if (auto* name = std::get_if<HostName>(&entries.back())) name->origin = where;
    }
  }
  if (file.bad()) throw std::system_error(errno, std::generic_category(), "cannot read " + quote(path));
}

const HostName* first_host_name(const std::vector<AccessEntry>& entries) {
  for (const AccessEntry& entry : entries)
    if (const auto* name = std::get_if<HostName>(&entry)) return name;
  return nullptr;
}

bool AddressSet::contains(const std::array<unsigned char, 16>& address) const {
  return std::any_of(ranges.begin(), ranges.end(), [&](const AddressRange& range) { return range.contains(address); }) ||
         std::any_of(patterns.begin(), patterns.end(), [&](const OctetPattern& pattern) { return pattern.contains(address); });
}

AddressSet resolve_entries(const std::vector<AccessEntry>& entries, const NameResolver& resolve) {
  AddressSet set;
  for (const AccessEntry& entry : entries) {
    if (const auto* range = std::get_if<AddressRange>(&entry)) set.ranges.push_back(*range);
    if (const auto* pattern = std::get_if<OctetPattern>(&entry)) set.patterns.push_back(*pattern);
    const auto* name = std::get_if<HostName>(&entry);
    if (!name) continue;
    for (const std::array<unsigned char, 16>& address : resolve(*name)) {
      unsigned bits = is_mapped_v4(address) ? 32 : 128;
      unsigned prefix = name->prefix_length.value_or(bits);
      if (prefix > bits)
        throw std::runtime_error(name->origin + ": " + quote(name->name + "/" + std::to_string(prefix)) +
                                 ": the prefix is longer than an IPv4 address, and the name has one");
      AddressRange range{address, prefix + (128 - bits)};
      clear_host_bits(range);
      set.ranges.push_back(range);
    }
  }
  return set;
}

std::optional<std::array<unsigned char, 16>> address_bytes(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    sockaddr_in v4;
    std::memcpy(&v4, address, sizeof v4);
    return mapped(reinterpret_cast<const unsigned char*>(&v4.sin_addr));
  }
  if (address->sa_family == AF_INET6) {
    sockaddr_in6 v6;
    std::memcpy(&v6, address, sizeof v6);
    std::array<unsigned char, 16> bytes;
    std::memcpy(bytes.data(), &v6.sin6_addr, 16);
    return bytes;
  }
  return std::nullopt;
}

void AccessList::allow(const AddressSet& addresses) {
  allow_listed_only_ = true;
  allowed_.ranges.insert(allowed_.ranges.end(), addresses.ranges.begin(), addresses.ranges.end());
  allowed_.patterns.insert(allowed_.patterns.end(), addresses.patterns.begin(), addresses.patterns.end());
}

void AccessList::deny(const AddressSet& addresses) {
  denied_.ranges.insert(denied_.ranges.end(), addresses.ranges.begin(), addresses.ranges.end());
  denied_.patterns.insert(denied_.patterns.end(), addresses.patterns.begin(), addresses.patterns.end());
}

bool AccessList::admits(const std::array<unsigned char, 16>& address) const {
  if (denied_.contains(address)) return false;
  return !allow_listed_only_ || allowed_.contains(address);
}

bool AccessList::admits(const sockaddr* address) const {
  if (empty()) return true;
  std::optional<std::array<unsigned char, 16>> bytes = address_bytes(address);
  return !bytes || admits(*bytes);
}

}  // namespace sockcat
