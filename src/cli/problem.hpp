// The result of one step of reading the command line: nothing, or the error line it found.
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "parse.hpp"

namespace sockcat::cli {

// An error text (without "sockcat: "), or nothing when the step succeeded.
using Problem = std::optional<std::string>;

// Returns the error of a parse, if it failed.
template <typename T>
Problem problem_of(const Parsed<T>& parsed) {
  if (const auto* problem = std::get_if<std::string>(&parsed)) return *problem;
  return std::nullopt;
}

}  // namespace sockcat::cli
