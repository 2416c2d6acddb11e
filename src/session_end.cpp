#include "session_end.hpp"

#include <asio/error.hpp>

#include "diag.hpp"
#include "exit_status.hpp"

namespace sockcat {

void report_client_end(const ClientEnd& end) {
  std::string who = "connection from " + std::string(end.peer);
  std::string counts = end.counts.empty() ? std::string() : " (" + end.counts + ")";
  if (!end.dropped_why.empty()) diag::info(1, who + " dropped: " + std::string(end.dropped_why) + counts);
  else if (!end.problem.empty()) diag::info(1, who + " closed: " + std::string(end.problem) + counts);
  else if (end.failure == std::errc::timed_out) diag::info(1, who + " closed: " + std::string(end.idle_meaning) + " (-i)" + counts);
  else if (end.failure && end.failure != asio::error::operation_aborted)
    diag::info(1, who + " failed: " + end.failure.message() + counts);
  else diag::info(1, who + " closed" + counts);
}

std::string byte_counts(std::uint64_t received, std::uint64_t sent) {
  return "received " + diag::count_of(received, "byte") + ", sent " + std::to_string(sent);
}

int stdout_status(const std::error_code& write_error) {
  if (!write_error || write_error == asio::error::broken_pipe) return exit_ok;
  diag::error("stdout", write_error);
  return exit_failure;
}

}  // namespace sockcat
