// How a session's end is told and what it means for the exit status: the same words and the
// same rules in every stream mode.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace sockcat {

// What a server tells under -v when one client's session ends.
struct ClientEnd {
  std::string_view peer;          // the client's name
  std::error_code failure = {};   // what ended it, if not the client: timed_out is -i's limit
  std::string_view problem = {};  // a protocol problem, said instead of `failure` ("" = none)
  std::string_view dropped_why = {};  // why the server dropped it (broker), said first ("" = none)
  std::string counts = {};        // "received 5 bytes, sent 5": the session's own figures
  std::string_view idle_meaning = "idle too long";  // how -i's limit is said for this mode
};

// Prints one -v line: "connection from PEER closed (COUNTS)", "... closed: idle too long (-i)
// (COUNTS)", "... closed: PROBLEM (COUNTS)", "... dropped: WHY (COUNTS)" or "... failed:
// REASON (COUNTS)". A cancelled session (operation_aborted) ended normally.
void report_client_end(const ClientEnd& end);

// "received N bytes, sent M": the usual figures of a byte-stream session.
std::string byte_counts(std::uint64_t received, std::uint64_t sent);

// The exit status after a write to stdout ended with `write_error`: none, or its reader having
// left (EPIPE: `sockcat ... | head` is an ordinary end), is exit 0; anything else is one error
// line ("stdout: reason") and exit 1.
int stdout_status(const std::error_code& write_error);

}  // namespace sockcat
