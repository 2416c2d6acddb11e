// What the proxy codec tests (socks_test.cpp, http_connect_test.cpp) share: the value of a
// codec's result, or its problem, checked to be one line.
#pragma once

#include <catch2/catch.hpp>
#include <string>
#include <variant>

#include "proxy/socks.hpp"

namespace proxy_checks {

// The bytes of a successful encoding (fails the test on a problem).
inline std::string wire(const sockcat::Parsed<sockcat::Wire>& encoded) {
  if (auto* problem = std::get_if<std::string>(&encoded)) FAIL("unexpected problem: " << *problem);
  return std::get<sockcat::Wire>(encoded).bytes;
}

// The problem of a failed step; it must be one line.
template <typename T>
std::string problem(const sockcat::Parsed<T>& result) {
  REQUIRE(std::holds_alternative<std::string>(result));
  const std::string& text = std::get<std::string>(result);
  CHECK(!text.empty());
  CHECK(text.find('\n') == std::string::npos);
  return text;
}

// The value of a successful step (fails the test on a problem).
template <typename T>
T value(const sockcat::Parsed<T>& result) {
  if (auto* problem = std::get_if<std::string>(&result)) FAIL("unexpected problem: " << *problem);
  return std::get<T>(result);
}

}  // namespace proxy_checks
