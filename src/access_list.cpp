#include "access_list.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
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
    return quote(text) + " is not an IP address or CIDR range (host names are not accepted)";
  }
  unsigned prefix = max_prefix;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || prefix > max_prefix)
      return "bad prefix length in " + quote(text) + " (0 to " + std::to_string(max_prefix) + " for " +
             (max_prefix == 32 ? "IPv4)" : "IPv6)");
  }
  range.prefix_length = prefix + (max_prefix == 32 ? 96 : 0);
  clear_host_bits(range);
  return range;
}

std::optional<std::string> parse_range_list(std::string_view list, std::vector<AddressRange>& ranges) {
  std::vector<AddressRange> parsed;
  for (;;) {
    std::size_t comma = list.find(',');
    Parsed<AddressRange> range = parse_address_range(list.substr(0, comma));
    if (auto* problem = std::get_if<std::string>(&range)) return *problem;
    parsed.push_back(std::get<AddressRange>(range));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  ranges.insert(ranges.end(), parsed.begin(), parsed.end());
  return std::nullopt;
}

void load_range_file(const std::string& path, std::vector<AddressRange>& ranges) {
  struct stat info;  // a directory opens, then reads as empty: say what it is instead
  if (::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode))
    throw std::system_error(EISDIR, std::generic_category(), "cannot read " + quote(path));
  std::ifstream file(path);
  if (!file) throw std::system_error(errno, std::generic_category(), "cannot read " + quote(path));
  std::string line;
  for (unsigned number = 1; std::getline(file, line); ++number) {
    std::string_view entry = trimmed(std::string_view(line).substr(0, line.find('#')));
    if (entry.empty()) continue;
    Parsed<AddressRange> range = parse_address_range(entry);
    if (auto* problem = std::get_if<std::string>(&range))
      throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                              quote(path) + " line " + std::to_string(number) + ": " + *problem);
    ranges.push_back(std::get<AddressRange>(range));
  }
  if (file.bad()) throw std::system_error(errno, std::generic_category(), "cannot read " + quote(path));
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

void AccessList::allow(const std::vector<AddressRange>& ranges) {
  allow_listed_only_ = true;
  allowed_.insert(allowed_.end(), ranges.begin(), ranges.end());
}

void AccessList::deny(const std::vector<AddressRange>& ranges) {
  denied_.insert(denied_.end(), ranges.begin(), ranges.end());
}

bool AccessList::admits(const std::array<unsigned char, 16>& address) const {
  auto matches = [&](const AddressRange& range) { return range.contains(address); };
  if (std::any_of(denied_.begin(), denied_.end(), matches)) return false;
  return !allow_listed_only_ || std::any_of(allowed_.begin(), allowed_.end(), matches);
}

bool AccessList::admits(const sockaddr* address) const {
  if (empty()) return true;
  std::optional<std::array<unsigned char, 16>> bytes = address_bytes(address);
  return !bytes || admits(*bytes);
}

AccessList make_access_list(const Options& options) {
  AccessList list;
  std::vector<AddressRange> ranges;
  for (const std::string& spec : options.allow) parse_range_list(spec, ranges);
  for (const std::string& path : options.allow_files) load_range_file(path, ranges);
  if (!options.allow.empty() || !options.allow_files.empty()) list.allow(ranges);
  ranges.clear();
  for (const std::string& spec : options.deny) parse_range_list(spec, ranges);
  for (const std::string& path : options.deny_files) load_range_file(path, ranges);
  if (!ranges.empty()) list.deny(ranges);
  return list;
}

}  // namespace sockcat
