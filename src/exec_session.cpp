#include "exec_session.hpp"

#include <algorithm>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ip/tcp.hpp>
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
#include "diag.hpp"
#include "options.hpp"
#include "parse.hpp"
#include "pump.hpp"
#include "relay_tap.hpp"
#include "send_shaper.hpp"
#include "endpoint.hpp"
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

ChildCommand::ChildCommand(std::vector<std::string> argv, bool crlf) : argv_(std::move(argv)), crlf_(crlf) {
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

namespace {

// The ends of a TCP connection; an IPv4-mapped IPv6 address is given as plain IPv4.
ConnectionEnds tcp_connection_ends(const asio::ip::tcp::endpoint& remote, const asio::ip::tcp::endpoint& local) {
  return {"tcp", "TCP", address_text(remote), std::to_string(remote.port()), address_text(local),
          std::to_string(local.port())};
}

// The ends of a socket of any family, from its two addresses; `datagram` tells UDP from TCP.
ConnectionEnds socket_ends(const sockaddr* remote, std::size_t remote_size, const sockaddr* local,
                           std::size_t local_size, bool datagram) {
  const std::string ncat_proto = datagram ? "UDP" : "TCP";
  if (remote->sa_family == AF_UNIX) {
    auto name = [](const sockaddr* end, std::size_t size) {
      return size > offsetof(sockaddr_un, sun_path) ? format_unix_address(end, size) : "";
    };
    return {"unix", ncat_proto, name(remote, remote_size), "", name(local, local_size), ""};
  }
  ConnectionEnds ends = tcp_connection_ends(ip_endpoint_of<asio::ip::tcp>(remote, remote_size),
                                            ip_endpoint_of<asio::ip::tcp>(local, local_size));
  if (datagram) ends.proto = "udp";
  ends.ncat_proto = ncat_proto;
  return ends;
}

// The variables a child is told, one row each: the name after SOCKCAT_ and NCAT_, the value
// under sockcat's name, and the value under ncat's.
struct ChildVariable {
  std::string_view suffix;
  std::string ConnectionEnds::*sockcat_value;
  std::string ConnectionEnds::*ncat_value;
};

constexpr ChildVariable child_variables[] = {
    {"PROTO", &ConnectionEnds::proto, &ConnectionEnds::ncat_proto},
    {"REMOTE_ADDR", &ConnectionEnds::remote_address, &ConnectionEnds::remote_address},
    {"REMOTE_PORT", &ConnectionEnds::remote_port, &ConnectionEnds::remote_port},
    {"LOCAL_ADDR", &ConnectionEnds::local_address, &ConnectionEnds::local_address},
    {"LOCAL_PORT", &ConnectionEnds::local_port, &ConnectionEnds::local_port},
};

// The "NAME=value" entries of `ends`, under both prefixes.
std::vector<std::string> variables_of(const ConnectionEnds& ends) {
  std::vector<std::string> entries;
  for (const ChildVariable& row : child_variables) {
    entries.push_back("SOCKCAT_" + std::string(row.suffix) + "=" + ends.*row.sockcat_value);
    entries.push_back("NCAT_" + std::string(row.suffix) + "=" + ends.*row.ncat_value);
  }
  return entries;
}

}  // namespace

ConnectionEnds connection_ends(const StreamEndpoint& remote, const StreamEndpoint& local) {
  return socket_ends(remote.data(), remote.size(), local.data(), local.size(), false);
}

ConnectionEnds connection_ends(const Connection& connection, std::error_code& ec) {
  StreamEndpoint local = connection.local_endpoint(ec);
  if (ec) return {};
  return connection_ends(connection.remote(), local);
}

ConnectionEnds datagram_ends(const DatagramSocket::endpoint_type& remote, const DatagramSocket::endpoint_type& local) {
  return socket_ends(remote.data(), remote.size(), local.data(), local.size(), true);
}

std::vector<std::string> child_environment(const ConnectionEnds& ends) {
  std::vector<std::string> ours = variables_of(ends);
  std::vector<std::string> environment;
  for (char** entry = environ; entry && *entry; ++entry) {
    std::string_view variable(*entry);
    std::string_view name = variable.substr(0, variable.find('='));
    if (name == proxy_auth_variable) continue;
    bool replaced = std::any_of(ours.begin(), ours.end(), [&](const std::string& own) {
      return own.size() > name.size() && own.compare(0, name.size(), name) == 0 && own[name.size()] == '=';
    });
    if (!replaced) environment.emplace_back(variable);
  }
  environment.insert(environment.end(), ours.begin(), ours.end());
  return environment;
}

PipedChild start_piped_child(const asio::any_io_executor& executor, const ConnectionEnds& ends,
                             const ChildCommand& command) {
  int to_child[2];
  int from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "cannot run " + quote(command.path()));
  if (::pipe2(from_child, O_CLOEXEC) != 0) {
    int error = errno;
    ::close(to_child[0]);
    ::close(to_child[1]);
    throw std::system_error(error, std::generic_category(), "cannot run " + quote(command.path()));
  }
  PipedChild child{nullptr, asio::posix::stream_descriptor(executor, to_child[1]),
                   asio::posix::stream_descriptor(executor, from_child[0])};
  try {
    child.process = std::make_unique<ChildProcess>(executor, command.path(), command.argv(), child_environment(ends),
                                                   to_child[0], from_child[1]);
  } catch (...) {
    ::close(to_child[0]);
    ::close(from_child[1]);
    throw;
  }
  ::close(to_child[0]);  // the child's ends are the child's alone: its exit is the pipes' end
  ::close(from_child[1]);
  child.input.non_blocking(true);
  child.output.non_blocking(true);
  return child;
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

namespace {

// -C, -o, -x, --stats, or a connection without a descriptor: runs `command` on pipes and
// relays them with `connection`, the program's output through -C's conversion when
// command.crlf(), every byte shown to `tap` (if any), until the program has exited and its
// output is drained.
// The client's EOF closes the program's stdin; the program's exit closes the connection.
// Returns false, after one error line, when the child could not be started.
asio::awaitable<bool> relay_to_piped_command(Connection& connection, const ConnectionEnds& ends,
                                             const ChildCommand& command, const std::string& label,
                                             RelayTap* tap) {
  using namespace asio::experimental::awaitable_operators;
  auto executor = co_await asio::this_coro::executor;
  std::optional<PipedChild> started;
  std::error_code ignored;
  try {
    started.emplace(start_piped_child(executor, ends, command));
  } catch (const std::system_error& e) {
    connection.close();
    diag::error(label + ": " + e.what());
    co_return false;
  }
  PipedChild& child = *started;
  diag::info(1, label + ": running " + command.describe() + " (pid " + std::to_string(child.process->pid()) + ")");
  std::optional<SendShaper> shaper;
  if (command.crlf()) shaper.emplace(executor, true, std::chrono::milliseconds(0), relay_buffer_size);
  auto buffers = std::make_unique<std::array<char, 2 * relay_buffer_size>>();
  bool stop_receiving = false;
  bool never = false;
  int status = -1;
  // Client -> program; the client's EOF (or the program's exit) is the end of its stdin.
  auto to_program = [&]() -> asio::awaitable<void> {
    co_await pump(connection, child.input, std::span<char>(buffers->data(), relay_buffer_size), &stop_receiving,
                  PumpHooks{tap, Direction::received, nullptr});
    child.input.close(ignored);
  };
  // Program -> client, converted; then the client is told the program has finished sending.
  auto from_program = [&]() -> asio::awaitable<void> {
    co_await pump(child.output, connection, std::span<char>(buffers->data() + relay_buffer_size, relay_buffer_size),
                  &never, PumpHooks{tap, Direction::sent, shaper ? &*shaper : nullptr});
    child.output.close(ignored);  // a program still writing gets EPIPE, as it would from the socket
    co_await end_sending(connection);
  };
  auto reap = [&]() -> asio::awaitable<void> { status = co_await child.process->wait(); };
  auto until_exit = [&]() -> asio::awaitable<void> {
    co_await (from_program() && reap());
    stop_receiving = true;
    connection.cancel();
    child.input.cancel(ignored);
  };
  co_await (until_exit() && to_program());
  connection.close();
  diag::info(1, label + " closed: " + command.describe() + " " + describe_wait_status(status));
  co_return true;
}

}  // namespace

asio::awaitable<bool> hand_to_command(Connection& connection, const ChildCommand& command,
                                      const std::string& label, RelayTap* tap) {
  std::error_code ec;
  ConnectionEnds ends = connection_ends(connection, ec);
  if (ec) {
    connection.close();
    diag::error(label + " failed before the program started: " + ec.message());
    co_return false;
  }
  // The child owns the socket itself unless sockcat must see the bytes or there is no socket.
  int descriptor = command.crlf() || tap ? -1 : connection.release();
  if (descriptor >= 0) co_return co_await run_command(descriptor, ends, command, label);
  co_return co_await relay_to_piped_command(connection, ends, command, label, tap);
}

namespace {

// One client of serve_commands().
asio::awaitable<void> command_session(std::unique_ptr<Connection> client, const ChildCommand& command,
                                      ServerTap* server_tap) {
  std::string label = "connection from " + client->peer();
  diag::info(1, label);
  std::unique_ptr<RelayTap> tap = client_tap(server_tap, client->peer());
  co_await hand_to_command(*client, command, label, tap.get());
}

}  // namespace

asio::awaitable<void> serve_commands(Listener& listener, const ChildCommand& command, ServerLimits limits) {
  const Session session = [&command, tap = limits.tap](std::unique_ptr<Connection> client) {
    return command_session(std::move(client), command, tap);
  };
  co_await accept_clients(listener, limits, session);
}

}  // namespace sockcat
