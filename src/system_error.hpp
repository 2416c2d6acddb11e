// Comparing error codes with errno values. Asio's own "asio.system" category (used for every
// error it reports) does not compare equal to std::errc conditions, so `ec == std::errc::x`
// is silently false for Asio errors: compare errno values through this instead.
#pragma once

#include <asio/error.hpp>
#include <cerrno>
#include <system_error>

namespace sockcat {

// The errno value `ec` carries, or 0 when it is not an operating-system error.
inline int errno_of(const std::error_code& ec) {
  const std::error_category& category = ec.category();
  if (category == asio::error::get_system_category() || category == std::system_category() ||
      category == std::generic_category())
    return ec.value();
  return 0;
}

// The current errno as Asio's system category, so that it compares equal to
// asio::error::broken_pipe and the other codes Asio reports.
inline std::error_code last_system_error() { return {errno, asio::error::get_system_category()}; }

}  // namespace sockcat
