#include "unix_endpoint.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <vector>

#include "diag.hpp"

namespace sockcat {
namespace {

// Where sun_path starts: an address this long or shorter has no name at all.
constexpr std::size_t path_offset = offsetof(sockaddr_un, sun_path);

// A socket file this process bound, recognised later by its device and inode.
struct OwnFile {
  std::string path;
  dev_t device;
  ino_t inode;
};

// The socket files to remove at exit. Touched only by the io thread and by run()'s end.
std::vector<OwnFile>& own_files() {
  static std::vector<OwnFile> files;
  return files;
}

// The name of `address` for messages.
std::string name_of(const UnixAddress& address) {
  return format_unix_address(reinterpret_cast<const sockaddr*>(&address.address), address.length);
}

std::system_error failure(int error, const std::string& what) {
  return std::system_error(std::error_code(error, std::system_category()), what);
}

}  // namespace

Parsed<UnixAddress> parse_unix_address(std::string_view text) {
  if (text.empty()) return std::string("empty Unix socket path");
  if (text.find('\0') != std::string_view::npos) return "Unix socket path " + quote(text) + " holds a NUL byte";
  UnixAddress result;
  result.address.sun_family = AF_UNIX;
  result.abstract = text.front() == '@';
  std::string_view name = result.abstract ? text.substr(1) : text;
  if (result.abstract && name.empty()) return std::string("'@' alone names no abstract socket (give @NAME)");
  if (name.size() > unix_path_max)
    return std::string(result.abstract ? "abstract socket name " : "Unix socket path ") + quote(text) + " is " +
           diag::count_of(name.size(), "byte") + " long; at most " + std::to_string(unix_path_max) +
           " fit in a sockaddr_un";
  char* path = result.address.sun_path;
  std::memcpy(path + (result.abstract ? 1 : 0), name.data(), name.size());  // the rest stays NUL
  result.length = static_cast<socklen_t>(path_offset + 1 + name.size());
  return result;
}

std::string format_unix_address(const sockaddr* address, std::size_t length) {
  if (length <= path_offset) return "unnamed socket";
  const char* path = reinterpret_cast<const sockaddr_un*>(address)->sun_path;
  std::size_t size = std::min(length - path_offset, sizeof(sockaddr_un::sun_path));
  if (path[0] == '\0') return "@" + printable(std::string_view(path + 1, size - 1));
  return printable(std::string_view(path, strnlen(path, size)));
}

PathState probe_socket_path(const UnixAddress& address, std::error_code& ec) {
  ec.clear();
  if (address.abstract) return PathState::absent;
  struct stat st {};
  if (::lstat(address.address.sun_path, &st) != 0) {
    if (errno == ENOENT) return PathState::absent;
    ec = std::error_code(errno, std::system_category());
    return PathState::absent;
  }
  if (!S_ISSOCK(st.st_mode)) return PathState::not_socket;
  int probe = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (probe < 0) {
    ec = std::error_code(errno, std::system_category());
    return PathState::absent;
  }
  int result = ::connect(probe, reinterpret_cast<const sockaddr*>(&address.address), address.length);
  int error = result == 0 ? 0 : errno;
  ::close(probe);
  if (result == 0 || error == EPROTOTYPE) return PathState::live;
  if (error == ECONNREFUSED) return PathState::stale;
  if (error == ENOENT) return PathState::absent;  // removed since we looked
  ec = std::error_code(error, std::system_category());
  return PathState::absent;
}

void clear_stale_socket(const UnixAddress& address, std::string_view action) {
  const std::string name = name_of(address);
  std::error_code ec;
  switch (probe_socket_path(address, ec)) {
    case PathState::absent:
      if (ec) throw std::system_error(ec, "cannot check " + name);
      return;
    case PathState::live:
      throw failure(EADDRINUSE, "cannot " + std::string(action) + " " + name + " (a live socket is bound there)");
    case PathState::not_socket:
      throw std::runtime_error("cannot " + std::string(action) + " " + name +
                               ": it exists and is not a socket (left alone)");
    case PathState::stale:
      break;
  }
  if (::unlink(address.address.sun_path) != 0 && errno != ENOENT)
    throw failure(errno, "cannot remove the stale socket " + name);
  diag::info(1, "removed stale socket " + name + " (nothing was bound to it)");
}

void remember_socket_file(const UnixAddress& address) {
  if (address.abstract) return;
  struct stat st {};
  if (::lstat(address.address.sun_path, &st) != 0) return;
  own_files().push_back({address.address.sun_path, st.st_dev, st.st_ino});
}

void remove_own_socket_files() {
  for (const OwnFile& file : own_files()) {
    struct stat st {};
    if (::lstat(file.path.c_str(), &st) == 0 && st.st_dev == file.device && st.st_ino == file.inode)
      ::unlink(file.path.c_str());
  }
  own_files().clear();
}

}  // namespace sockcat
