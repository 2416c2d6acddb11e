#include "command_tap.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <cerrno>
#include <cstring>
#include <sys/socket.h>

#include "diag.hpp"
#include "relay.hpp"

namespace sockcat {

asio::awaitable<bool> run_command_through_tap(StreamSocket& connection, const ConnectionEnds& ends,
                                              const ChildCommand& command, const std::string& label, RelayTap& tap) {
  using namespace asio::experimental::awaitable_operators;
  std::error_code ignored;
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    diag::error(label + ": cannot make a socket pair for the program: " + std::strerror(errno));
    connection.close(ignored);
    co_return false;
  }
  StreamSocket program(connection.get_executor(), asio::generic::stream_protocol(AF_UNIX, 0), pair[0]);
  bool started = true;
  bool exited = false;
  bool output_ended = false;
  bool stop = false;
  auto finish = [&] {
    stop = true;
    connection.cancel(ignored);
    program.cancel(ignored);
  };
  auto run = [&]() -> asio::awaitable<void> {
    started = co_await run_command(pair[1], ends, command, label);  // closes pair[1]
    exited = true;
    if (output_ended || !started) finish();
  };
  auto input = [&]() -> asio::awaitable<void> {  // the client's bytes to the program
    auto buffer = std::make_unique<std::array<char, relay_buffer_size>>();
    co_await pump(connection, program, *buffer, &stop, PumpHooks{&tap, Direction::received, nullptr});
    program.shutdown(asio::socket_base::shutdown_send, ignored);
  };
  auto output = [&]() -> asio::awaitable<void> {  // the program's bytes to the client
    auto buffer = std::make_unique<std::array<char, relay_buffer_size>>();
    co_await pump(program, connection, *buffer, &stop, PumpHooks{&tap, Direction::sent, nullptr});
    connection.shutdown(asio::socket_base::shutdown_send, ignored);
    output_ended = true;
    if (exited) finish();
  };
  co_await (run() && input() && output());
  connection.close(ignored);
  co_return started;
}

}  // namespace sockcat
