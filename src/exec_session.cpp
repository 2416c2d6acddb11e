#include "exec_session.hpp"

#include <asio/this_coro.hpp>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string_view>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

#include "child_process.hpp"
#include "command_tap.hpp"
#include "diag.hpp"
#include "parse.hpp"
#include "unix_endpoint.hpp"

extern char** environ;

namespace sockcat {
namespace {

// 0 when `path` is an executable regular file, else the errno that says why not.
int runnable(const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) return errno;
  if (!S_ISREG(info.st_mode)) return EACCES;
  return ::access(path.c_str(), X_OK) == 0 ? 0 : errno;
}

// The path of program `name` (no slash) in PATH, the way execvp searches: an empty entry is
// the current directory, and an entry that holds it without execute permission is remembered
// in case no other does. Throws std::system_error when none has it.
std::string search_path(const std::string& name) {
  const char* variable = std::getenv("PATH");
  std::string_view path = variable ? variable : "/usr/local/bin:/usr/bin:/bin";
  int failure = ENOENT;
  for (;;) {
    std::size_t colon = path.find(':');
    std::string directory(path.substr(0, colon));
    std::string candidate = (directory.empty() ? "." : directory) + "/" + name;
    int error = runnable(candidate);
    if (error == 0) return candidate;
    if (error == EACCES) failure = EACCES;
    if (colon == std::string_view::npos) break;
    path.remove_prefix(colon + 1);
  }
  throw std::system_error(failure, std::generic_category(), "cannot run " + quote(name) + " (searched PATH)");
}

// Clears O_NONBLOCK on `fd`: the program gets the blocking socket every program expects.
void make_blocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK)) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

// The address of `endpoint` as text, IPv4-mapped IPv6 shown as plain IPv4.
std::string address_text(const asio::ip::tcp::endpoint& endpoint) {
  asio::ip::address address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    return asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
  return address.to_string();
}

}  // namespace

ChildCommand::ChildCommand(std::vector<std::string> argv) : argv_(std::move(argv)) {
  const std::string& program = argv_.at(0);
  if (program.find('/') != std::string::npos) {
    if (int error = runnable(program)) throw std::system_error(error, std::generic_category(), "cannot run " + quote(program));
    path_ = program;
  } else {
    path_ = search_path(program);
  }
  std::signal(SIGCHLD, SIG_DFL);
}

std::string ChildCommand::describe() const {
  std::string text;
  for (const std::string& word : argv_) text += (text.empty() ? "" : " ") + word;
  return quote(text);
}

ConnectionEnds tcp_connection_ends(const asio::ip::tcp::endpoint& remote, const asio::ip::tcp::endpoint& local) {
  return {"tcp", address_text(remote), std::to_string(remote.port()), address_text(local),
          std::to_string(local.port())};
}

ConnectionEnds connection_ends(const StreamSocket::endpoint_type& remote, const StreamSocket::endpoint_type& local) {
  if (remote.data()->sa_family == AF_UNIX) {
    auto name = [](const StreamSocket::endpoint_type& end) {
      return end.size() > offsetof(sockaddr_un, sun_path) ? format_unix_address(end.data(), end.size()) : "";
    };
    return {"unix", name(remote), "", name(local), ""};
  }
  auto as_tcp = [](const StreamSocket::endpoint_type& end) {
    asio::ip::tcp::endpoint ip;
    std::size_t size = std::min<std::size_t>(end.size(), ip.capacity());
    std::memcpy(ip.data(), end.data(), size);
    ip.resize(size);
    return ip;
  };
  return tcp_connection_ends(as_tcp(remote), as_tcp(local));
}

std::vector<std::string> child_environment(const ConnectionEnds& ends) {
  const std::pair<std::string_view, const std::string*> ours[] = {
      {"SOCKCAT_PROTO", &ends.proto},
      {"SOCKCAT_REMOTE_ADDR", &ends.remote_address},
      {"SOCKCAT_REMOTE_PORT", &ends.remote_port},
      {"SOCKCAT_LOCAL_ADDR", &ends.local_address},
      {"SOCKCAT_LOCAL_PORT", &ends.local_port},
  };
  std::vector<std::string> environment;
  for (char** entry = environ; entry && *entry; ++entry) {
    std::string_view variable(*entry);
    bool replaced = false;
    for (const auto& [name, value] : ours)
      replaced = replaced || (variable.size() > name.size() && variable.substr(0, name.size()) == name &&
                              variable[name.size()] == '=');
    if (!replaced) environment.emplace_back(variable);
  }
  for (const auto& [name, value] : ours) environment.push_back(std::string(name) + "=" + *value);
  return environment;
}

asio::awaitable<bool> run_command(int connection, const ConnectionEnds& ends, const ChildCommand& command,
                                  const std::string& label) {
  auto executor = co_await asio::this_coro::executor;
  make_blocking(connection);
  std::unique_ptr<ChildProcess> child;
  try {
    child = std::make_unique<ChildProcess>(executor, command.path(), command.argv(), child_environment(ends),
                                           connection);
  } catch (const std::system_error& e) {
    ::close(connection);
    diag::error(label + ": " + e.what());
    co_return false;
  }
  ::close(connection);  // the child holds the connection now: its exit closes it
  diag::info(1, label + ": running " + command.describe() + " (pid " + std::to_string(child->pid()) + ")");
  int status = co_await child->wait();
  diag::info(1, label + " closed: " + command.describe() + " " + describe_wait_status(status));
  co_return true;
}

asio::awaitable<bool> hand_to_command(StreamSocket& socket, const ChildCommand& command,
                                      const std::string& label, RelayTap* tap) {
  std::error_code ec;
  StreamSocket::endpoint_type remote = socket.remote_endpoint(ec);
  StreamSocket::endpoint_type local;
  if (!ec) local = socket.local_endpoint(ec);
  if (!ec && tap) co_return co_await run_command_through_tap(socket, connection_ends(remote, local), command, label, *tap);
  int connection = ec ? -1 : socket.release(ec);
  if (ec) {
    std::error_code ignored;
    socket.close(ignored);
    diag::error(label + " failed before the program started: " + ec.message());
    co_return false;
  }
  co_return co_await run_command(connection, connection_ends(remote, local), command, label);
}

namespace {

// One client of serve_commands().
asio::awaitable<void> command_session(StreamSocket socket, std::string peer, const ChildCommand& command,
                                      ServerTap* server_tap) {
  std::string label = "connection from " + peer;
  diag::info(1, label);
  std::unique_ptr<RelayTap> tap = client_tap(server_tap, peer);
  co_await hand_to_command(socket, command, label, tap.get());
}

}  // namespace

asio::awaitable<void> serve_commands(StreamAcceptor& acceptor, const ChildCommand& command, ServerLimits limits) {
  const Session session = [&command, tap = limits.tap](StreamSocket socket, std::string peer) {
    return command_session(std::move(socket), std::move(peer), command, tap);
  };
  co_await accept_clients(acceptor, limits, session);
}

}  // namespace sockcat
