// Access control for listeners (--allow, --deny, --allowfile, --denyfile): which peers a server
// serves. Entries are numeric addresses or CIDR ranges, IPv4 or IPv6; never host names, since
// nothing is resolved at accept time. Free of Asio, so the command-line fuzzer can build it.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <vector>

#include "options.hpp"
#include "parse.hpp"

namespace sockcat {

// One range of addresses: the first `prefix_length` bits of `bytes`. IPv4 ranges are kept as
// IPv4-mapped IPv6 (::ffff:a.b.c.d, prefix + 96), so one comparison serves both families and
// an IPv4 peer seen through a dual-stack socket matches IPv4 entries.
struct AddressRange {
  std::array<unsigned char, 16> bytes{};  // bits past the prefix are zero
  unsigned prefix_length = 128;

  // True when the 16-byte address `address` lies inside the range.
  bool contains(const std::array<unsigned char, 16>& address) const;
};

// Parses one entry: "a.b.c.d", "a.b.c.d/N" (N 0-32), an IPv6 address, or "v6/N" (N 0-128).
// Host bits past the prefix are ignored (10.1.2.3/8 is 10.0.0.0/8). Surrounding blanks are
// trimmed. Returns the reason when the entry is none of these (a host name, a bad prefix...).
Parsed<AddressRange> parse_address_range(std::string_view entry);

// Parses a comma-separated list of entries (one --allow/--deny value) and appends them to
// `ranges`. Returns the reason for the first bad or empty entry; `ranges` is then unchanged.
std::optional<std::string> parse_range_list(std::string_view list, std::vector<AddressRange>& ranges);

// Reads an --allowfile/--denyfile: one entry per line; blank lines and text after '#' are
// ignored. Appends to `ranges`. Throws std::system_error naming the file when it cannot be
// read, or naming the file, the line number and the entry when an entry is bad.
void load_range_file(const std::string& path, std::vector<AddressRange>& ranges);

// The 16-byte form of a socket address (IPv4 made IPv4-mapped), or nothing for any other
// family (a Unix socket's peer).
std::optional<std::array<unsigned char, 16>> address_bytes(const sockaddr* address);

// Which peers a listener serves. A peer is refused when it matches any deny entry, or when
// allow() was called (even with no entries: an empty --allowfile) and it matches none of the
// allowed ranges. A list with neither admits everyone.
class AccessList {
 public:
  // Adds entries that admit or refuse peers.
  void allow(const std::vector<AddressRange>& ranges);
  void deny(const std::vector<AddressRange>& ranges);

  // True when the list admits everyone (checking can then be skipped).
  bool empty() const { return !allow_listed_only_ && denied_.empty(); }

  // True when a peer at `address` may be served. Addresses of other families than IPv4 and
  // IPv6 (Unix sockets) are always admitted: the rules speak only of IP addresses.
  bool admits(const sockaddr* address) const;

  // The same test on a 16-byte address (see address_bytes).
  bool admits(const std::array<unsigned char, 16>& address) const;

 private:
  bool allow_listed_only_ = false;  // set by allow(): peers must match an allowed range
  std::vector<AddressRange> allowed_;
  std::vector<AddressRange> denied_;
};

// The access list that `options` describes: its --allow/--deny entries (checked by the
// command line already) and the entries of its --allowfile/--denyfile files. Throws
// std::system_error as load_range_file() does.
AccessList make_access_list(const Options& options);

}  // namespace sockcat
