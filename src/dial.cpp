#include "dial.hpp"

#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "endpoint.hpp"
#include "parse.hpp"
#include "with_error.hpp"

namespace sockcat {

std::vector<asio::ip::address> source_addresses(const Options& options) {
  if (options.source_address.empty()) return {};
  return resolve_host(options.source_address, options.family, true);
}

std::optional<std::pair<asio::ip::address, std::uint16_t>> source_for(const Options& options,
                                                                      const asio::ip::address& target,
                                                                      const std::vector<asio::ip::address>& sources) {
  std::uint16_t port = options.source_port.number;
  if (sources.empty()) {
    if (port == 0) return std::nullopt;
    if (target.is_v4()) return std::pair{asio::ip::address(asio::ip::address_v4::any()), port};
    return std::pair{asio::ip::address(asio::ip::address_v6::any()), port};
  }
  for (const asio::ip::address& source : sources)
    if (source.is_v4() == target.is_v4()) return std::pair{source, port};
  throw std::system_error(std::make_error_code(std::errc::address_family_not_supported),
                          "source address " + quote(options.source_address) + " has no address of the family of " +
                              target.to_string());
}

std::string describe_source(const Options& options) {
  if (options.source_port.text.empty()) return options.source_address;
  if (options.source_address.empty()) return "port " + options.source_port.text;
  return options.source_address + " port " + options.source_port.text;
}

asio::awaitable<std::error_code> connect_tcp(asio::ip::tcp::socket& socket, const asio::ip::tcp::endpoint& target,
                                             const std::vector<asio::ip::address>& sources, const Options& options) {
  std::error_code ec;
  socket.open(target.protocol(), ec);
  if (ec) co_return ec;
  if (auto source = source_for(options, target.address(), sources))
    bind_source(socket, asio::ip::tcp::endpoint(source->first, source->second), true, options);
  asio::steady_timer deadline(socket.get_executor());
  bool timed_out = false;
  if (options.connect_timeout.count() > 0) {
    deadline.expires_after(options.connect_timeout);
    deadline.async_wait([&](const std::error_code& timer_error) {
      if (timer_error) return;
      timed_out = true;
      std::error_code ignored;
      socket.cancel(ignored);
    });
  }
  auto [connect_error] = co_await socket.async_connect(target, with_error);
  deadline.cancel();
  if (timed_out && connect_error) co_return std::make_error_code(std::errc::timed_out);
  co_return connect_error;
}

}  // namespace sockcat
