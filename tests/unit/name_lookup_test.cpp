// name_lookup.hpp: resolve_host's answers and failures, from a coroutine that does not block
// its thread.
#include <catch2/catch.hpp>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <exception>
#include <string>
#include <system_error>
#include <vector>

#include "endpoint.hpp"
#include "in_process.hpp"
#include "name_lookup.hpp"

using namespace sockcat;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

namespace {

// What resolve_host_async gave on a loop of its own: the addresses, or the exception's text
// (empty when it gave addresses).
struct Outcome {
  std::vector<asio::ip::address> addresses;
  std::string failure;
};

// One lookup into `outcome` (parameters by value: a coroutine outlives its caller's frame).
asio::awaitable<void> look_up_into(std::string host, Family family, std::chrono::milliseconds limit, Outcome* outcome,
                                   std::size_t* finished) {
  try {
    outcome->addresses = co_await resolve_host_async(host, family, limit);
  } catch (const std::system_error& error) {
    outcome->failure = error.what();
  }
  ++*finished;
}

std::vector<Outcome> look_up_all(const std::vector<std::string>& hosts, Family family,
                                 std::chrono::milliseconds limit = 0ms) {
  asio::io_context ctx;
  std::vector<Outcome> outcomes(hosts.size());
  std::size_t finished = 0;
  for (std::size_t i = 0; i < hosts.size(); ++i)
    asio::co_spawn(ctx, look_up_into(hosts[i], family, limit, &outcomes[i], &finished), in_process::rethrow);
  REQUIRE(in_process::run_until(ctx, [&] { return finished == hosts.size(); }));
  return outcomes;
}

}  // namespace

TEST_CASE("resolve_host_async: the addresses resolve_host gives, literals and names") {
  const std::vector<std::string> hosts{"127.0.0.1", "::1", "localhost", "localhost", "localhost"};
  std::vector<Outcome> outcomes = look_up_all(hosts, Family::any);  // the three names side by side
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    INFO(hosts[i] << ": " << outcomes[i].failure);
    CHECK(outcomes[i].failure.empty());
    CHECK(outcomes[i].addresses == resolve_host(hosts[i], Family::any, false));
  }
  std::vector<Outcome> v4 = look_up_all({"localhost"}, Family::v4);
  CHECK(v4[0].addresses == resolve_host("localhost", Family::v4, false));
}

TEST_CASE("resolve_host_async: resolve_host's failures, with the same line") {
  for (const char* host : {"a..b", "::1"}) {
    std::string expected;
    try {
      resolve_host(host, Family::v4, false);
    } catch (const std::system_error& error) {
      expected = error.what();
    }
    REQUIRE_FALSE(expected.empty());
    Outcome outcome = look_up_all({host}, Family::v4)[0];
    CHECK(outcome.failure == expected);
    CHECK(outcome.addresses.empty());
  }
}
