#include "backend.hpp"

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <csignal>
#include <exception>
#include <system_error>

#include "child_process.hpp"
#include "diag.hpp"
#include "exit_status.hpp"

namespace sockcat {
namespace {

// How long children handed a connection (-e/-c) get to exit after SIGTERM when the program
// ends, before SIGKILL.
constexpr std::chrono::milliseconds child_grace{2000};

constexpr Backend table[] = {
    {"tcp", stream_listen, stream_connect},
    {"udp", datagram_listen, datagram_connect},
};

}  // namespace

std::span<const Backend> backends() { return table; }

const Backend& choose_backend(const Options& options) { return table[options.udp ? 1 : 0]; }

int run(const Options& options) {
  asio::io_context context(1);
  int status = exit_failure;

  asio::signal_set signals(context, SIGINT, SIGTERM);
  signals.async_wait([&](const std::error_code& ec, int signal_number) {
    if (ec) return;
    status = signal_number == SIGINT ? exit_interrupted : exit_terminated;
    context.stop();
  });

  const Backend& backend = choose_backend(options);
  auto entry = options.role == Role::listen ? backend.listen : backend.connect;
  asio::co_spawn(context, entry(options), [&](std::exception_ptr failure, int result) {
    status = result;
    if (failure) {
      status = exit_failure;
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        diag::error(e.what());
      }
    }
    context.stop();
  });

  try {
    context.run();
  } catch (const std::exception& e) {
    diag::error(e.what());
    status = exit_failure;
  }
  // Children handed a connection (-e/-c) do not outlive the program.
  ChildProcess::end_all(child_grace);
  return status;
}

}  // namespace sockcat
