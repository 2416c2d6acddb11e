// The only code that writes to stderr. Every line starts with "sockcat: ".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace sockcat::diag {

// Returns `count` and `noun` for a message, the noun with a plural -s unless the count is 1:
// "1 datagram", "0 bytes", "2 clients". For nouns whose plural is a plain -s.
std::string count_of(std::uint64_t count, std::string_view noun);

// Sets how chatty info() is; 0 prints errors only.
void set_verbosity(int level);

// Returns the level set by set_verbosity().
int verbosity();

// Prints "sockcat: <message>" on stderr, whatever the verbosity. Never fails loudly.
void error(std::string_view message);

// Prints "sockcat: <what>: <error text>" on stderr.
void error(std::string_view what, const std::error_code& ec);

// Prints "sockcat: <message>" when the verbosity is at least `level`.
void info(int level, std::string_view message);

// Shows "sockcat: <message>" as the status line of a terminal: each call rewrites it in place
// (carriage return, clear to end of line). Any other line printed meanwhile starts below it.
void status(std::string_view message);

// Ends the status line, if one is shown, so that the next output starts on a line of its own.
void end_status();

}  // namespace sockcat::diag
