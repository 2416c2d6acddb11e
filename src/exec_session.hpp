// -e/--exec and -c/--sh-exec: a connection handed to a program as its stdin and stdout. The
// connection's socket itself goes to the child (blocking again), sockcat closes its own copy at
// once and only waits for the child, so the client's EOF reaches the program and the program's
// exit (with that of anything it started that still holds the socket) closes the connection.
// When sockcat must see or change what passes (-C, -o, -x, --stats), or the connection has no
// socket to give, the child gets two pipes instead and sockcat relays them with the connection
// (start_piped_child(); datagram_exec.hpp does the same for -u).
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "accept_loop.hpp"
#include "child_process.hpp"
#include "socket_types.hpp"
#include "transport/connection.hpp"

namespace sockcat {

class RelayTap;

// The program each connection is handed to, found once at start-up.
class ChildCommand {
 public:
  // Takes the command's argv (Options::command; not empty). A program name with a slash is
  // taken as it is; any other is searched in PATH, as the shell does. Throws
  // std::system_error naming the program when it is missing, not a regular file or not
  // executable. Also stops SIGCHLD being ignored (inherited from our parent), which would
  // have the kernel reap children before we can. `crlf` (-C): every LF the program writes
  // goes out as CRLF.
  explicit ChildCommand(std::vector<std::string> argv, bool crlf = false);

  // Whether the program's LF becomes CRLF on the way to the network (-C).
  bool crlf() const { return crlf_; }

  // The program's path, as found.
  const std::string& path() const { return path_; }

  // The arguments, argv[0] first (as given on the command line).
  const std::vector<std::string>& argv() const { return argv_; }

  // The command line as given, for -v lines.
  std::string describe() const;

 private:
  std::vector<std::string> argv_;
  std::string path_;
  bool crlf_ = false;
};

// What the child is told about its connection, as SOCKCAT_PROTO, SOCKCAT_REMOTE_ADDR,
// SOCKCAT_REMOTE_PORT, SOCKCAT_LOCAL_ADDR and SOCKCAT_LOCAL_PORT, and under ncat's names
// (NCAT_PROTO, NCAT_REMOTE_ADDR, ...) for programs written for ncat.
struct ConnectionEnds {
  std::string proto;       // "tcp", "udp" or "unix"
  std::string ncat_proto;  // as ncat says it: "TCP" for a stream, "UDP" for datagrams (Unix too)
  std::string remote_address;
  std::string remote_port;
  std::string local_address;
  std::string local_port;
};

// The ends of a TCP or Unix connection from its two socket addresses; an IPv4-mapped IPv6
// address is given as plain IPv4. A Unix one has proto "unix", its paths (or @NAMEs) as
// addresses, "" for an end without a name, and no ports.
ConnectionEnds connection_ends(const StreamEndpoint& remote, const StreamEndpoint& local);

// The ends of `connection`: its remote() and its local_endpoint(), which sets `ec` when the
// connection cannot tell its own address (it is gone).
ConnectionEnds connection_ends(const Connection& connection, std::error_code& ec);

// The same for a datagram peer (UDP, or Unix with -U -u): proto "udp" or "unix".
ConnectionEnds datagram_ends(const DatagramSocket::endpoint_type& remote, const DatagramSocket::endpoint_type& local);

// Our environment with the SOCKCAT_* and NCAT_* variables of `ends` in place of any
// inherited ones, and without SOCKCAT_PROXY_AUTH (proxy_auth_variable), a secret for sockcat.
std::vector<std::string> child_environment(const ConnectionEnds& ends);

// A running child whose stdin and stdout are pipes; sockcat holds the other ends.
struct PipedChild {
  std::unique_ptr<ChildProcess> process;
  asio::posix::stream_descriptor input;   // writes reach the child's stdin; closing it is its EOF
  asio::posix::stream_descriptor output;  // reads what the child writes to its stdout
};

// Starts `command` with `ends` in its environment and pipes as its stdin and stdout (both of
// our ends non-blocking). Throws std::system_error naming the program when it cannot start.
PipedChild start_piped_child(const asio::any_io_executor& executor, const ConnectionEnds& ends,
                             const ChildCommand& command);

// Runs `command` with `connection` (a connected stream socket's descriptor, which this takes
// over and closes once the child has it) as its stdin and stdout, and waits until the child has
// exited and been reaped. `label` ("connection from ADDR:PORT") starts the -v lines about it.
// Returns false, after one error line, when the child could not be started.
asio::awaitable<bool> run_command(int connection, const ConnectionEnds& ends, const ChildCommand& command,
                                  const std::string& label);

// run_command() for `connection`, which is left closed (or released to the child). Fails (one
// line) if the connection cannot tell its own address. With command.crlf() (-C), a `tap` (-o,
// -x, --stats) or a connection without a descriptor to release, the program gets pipes
// instead, and sockcat relays them with the connection (LF to CRLF on the way out under -C;
// every byte shown to the tap) until the program has exited.
asio::awaitable<bool> hand_to_command(Connection& connection, const ChildCommand& command,
                                      const std::string& label, RelayTap* tap = nullptr);

// listen -k with -e/-c: hands every client that `limits` admits to its own child, until the
// listener is closed. -m counts running children; a child that cannot be started costs only
// its client.
asio::awaitable<void> serve_commands(Listener& listener, const ChildCommand& command, ServerLimits limits);

}  // namespace sockcat
