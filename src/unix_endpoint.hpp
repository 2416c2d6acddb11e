// Unix domain socket addresses: PATH or @NAME (the Linux abstract namespace) as a sockaddr_un,
// the check a listener makes before it binds a PATH that exists (a stale file from a dead
// listener is removed, a live listener is never disturbed), and removing, at exit, the socket
// files this process created. No Asio here: plain system calls, so tests can drive it directly.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/un.h>

#include "parse.hpp"

namespace sockcat {

// The longest PATH, or NAME of @NAME, that fits in sun_path (107 on Linux: a PATH keeps room
// for its terminating NUL, a NAME for the leading NUL that marks it abstract).
inline constexpr std::size_t unix_path_max = sizeof(sockaddr_un::sun_path) - 1;

// A Unix socket address, ready for bind() or connect().
struct UnixAddress {
  sockaddr_un address{};  // sun_family AF_UNIX; the path NUL-terminated, or NUL then NAME
  socklen_t length = 0;   // bytes of `address` that count (abstract names are exact-length)
  bool abstract = false;  // @NAME: nothing in the file system
};

// Parses a -U argument: "@NAME" names an abstract socket, anything else is a file-system path.
// Returns the reason it cannot be one (empty, "@" alone, longer than unix_path_max, or holding
// a NUL byte), one line fit to follow "sockcat: ".
Parsed<UnixAddress> parse_unix_address(std::string_view text);

// Names a Unix socket address for messages: its path, "@NAME" for an abstract name (bytes that
// cannot be printed written as \xNN), or "unnamed socket" for a peer that never bound one.
std::string format_unix_address(const sockaddr* address, std::size_t length);

// What a listener finds at its PATH before it binds.
enum class PathState {
  absent,      // nothing there (or an abstract name, which leaves no file)
  stale,       // a socket file nobody is bound to: a dead listener's
  live,        // a socket file some process is bound to
  not_socket,  // a file, directory, ... that is not a socket
};

// Looks at `address` without disturbing anyone bound there: a datagram socket's connect()
// to the path is refused for a stale file, succeeds for a live datagram socket and fails
// with EPROTOTYPE for a live stream listener, and neither queues a connection nor sends a
// byte. Sets `ec` (and returns absent) when the path cannot be checked (e.g. EACCES).
PathState probe_socket_path(const UnixAddress& address, std::error_code& ec);

// Gets a listener's PATH (or a -U -u client's -s LOCAL) ready for bind(): removes a stale
// socket file (said under -v). Throws std::system_error naming the path ("cannot ACTION
// PATH ...") when a live socket is there (address in use), when the path is not a socket (it
// is left alone), or when it cannot be checked or removed.
void clear_stale_socket(const UnixAddress& address, std::string_view action = "listen on");

// Records that this process just bound the socket file at `address` (nothing for an
// abstract name), so that remove_own_socket_files() removes it.
void remember_socket_file(const UnixAddress& address);

// Removes every socket file remember_socket_file() recorded, each only if its path still
// names that same file (device and inode): a file another listener has bound there since is
// left alone. Never throws; safe to call more than once.
void remove_own_socket_files();

}  // namespace sockcat
