// The completion token of every coroutine wait in sockcat: `co_await op(..., with_error)`
// yields a tuple of the error_code and the operation's result instead of throwing, so the
// data path sees failures as values.
#pragma once

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

namespace sockcat {

// Makes an awaited Asio operation return std::tuple<std::error_code, ...> rather than throw.
inline constexpr auto with_error = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace sockcat
