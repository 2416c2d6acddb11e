#include "name_lookup.hpp"

#include <asio/experimental/awaitable_operators.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <cstdint>
#include <exception>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <sys/eventfd.h>
#include <system_error>
#include <thread>
#include <unistd.h>

#include "endpoint.hpp"
#include "parse.hpp"
#include "system_error.hpp"
#include "with_error.hpp"

namespace sockcat {
namespace {

using namespace asio::experimental::awaitable_operators;

// How long a lookup given no limit of ours may take: the resolver's own timeouts
// (resolv.conf's, seconds each) end it long before.
constexpr std::chrono::milliseconds no_limit = std::chrono::hours(24);

// One lookup, shared by its thread and the coroutine waiting for it; whichever lets go last
// frees it. getaddrinfo cannot be interrupted, so a coroutine that stops waiting just leaves.
struct Pending {
  explicit Pending(int ready) : ready(ready) {}
  ~Pending() { ::close(ready); }
  Pending(const Pending&) = delete;
  Pending& operator=(const Pending&) = delete;

  const int ready;  // an eventfd, written once the outcome is in
  std::mutex mutex;
  std::vector<asio::ip::address> addresses;
  std::exception_ptr failure;  // resolve_host's exception, if it threw
};

// Runs on the lookup's own thread: the blocking lookup, its outcome stored, the waiter woken.
void look_up_now(const std::shared_ptr<Pending>& pending, const std::string& host, Family family) {
  std::vector<asio::ip::address> addresses;
  std::exception_ptr failure;
  try {
    addresses = resolve_host(host, family, false);
  } catch (...) {
    failure = std::current_exception();
  }
  {
    std::lock_guard<std::mutex> hold(pending->mutex);
    pending->addresses = std::move(addresses);
    pending->failure = failure;
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t written = ::write(pending->ready, &one, sizeof one);  // cannot fail: a fresh eventfd
}

}  // namespace

asio::awaitable<std::vector<asio::ip::address>> resolve_host_async(const std::string& host, Family family,
                                                                    std::chrono::milliseconds limit) {
  if (is_address_literal(host)) co_return resolve_host(host, family, false);
  auto executor = co_await asio::this_coro::executor;
  const std::string looking_up = "looking " + quote(host) + " up";
  const int ready = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (ready < 0) throw std::system_error(last_system_error(), "eventfd for " + looking_up);
  auto pending = std::make_shared<Pending>(ready);
  const int watched = ::fcntl(ready, F_DUPFD_CLOEXEC, 0);  // the waiter's own: `ready` lives as long as the thread needs it
  if (watched < 0) throw std::system_error(last_system_error(), "eventfd for " + looking_up);
  asio::posix::stream_descriptor answered(executor, watched);
  std::thread(look_up_now, pending, host, family).detach();

  asio::steady_timer deadline(executor, limit.count() > 0 ? limit : no_limit);
  auto outcome = co_await (answered.async_wait(asio::posix::stream_descriptor::wait_read, with_error) ||
                           deadline.async_wait(with_error));
  if (outcome.index() == 1)
    throw std::system_error(std::make_error_code(std::errc::timed_out), "no answer in time " + looking_up);
  std::lock_guard<std::mutex> hold(pending->mutex);
  if (pending->failure) std::rethrow_exception(pending->failure);
  co_return std::move(pending->addresses);
}

}  // namespace sockcat
