#include "diag.hpp"

#include "parse.hpp"

#include <cerrno>
#include <poll.h>
#include <string>
#include <unistd.h>

namespace sockcat::diag {
namespace {

int current_verbosity = 0;
bool status_shown = false;  // a status line is on the terminal, with no newline after it

// Writes all of `line` to fd 2. stderr may share a terminal's file description with
// stdin/stdout that Asio made non-blocking, so EAGAIN waits for room instead of losing text.
void write_line(const std::string& line) {
  const char* data = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, data, left);
    if (n > 0) {
      data += n;
      left -= static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      pollfd pfd{STDERR_FILENO, POLLOUT, 0};
      ::poll(&pfd, 1, 1000);
    } else {
      return;  // stderr is gone: nothing sensible left to do
    }
  }
}

}  // namespace

std::string count_of(std::uint64_t count, std::string_view noun) {
  std::string text = std::to_string(count) + " ";
  text += noun;
  if (count != 1) text += 's';
  return text;
}

void set_verbosity(int level) { current_verbosity = level; }

int verbosity() { return current_verbosity; }

void error(std::string_view message) {
  std::string line = status_shown ? "\nsockcat: " : "sockcat: ";
  status_shown = false;
  line += printable(message);  // whatever it quotes, a diagnostic stays one line
  line += '\n';
  write_line(line);
}

void error(std::string_view what, const std::error_code& ec) {
  std::string message(what);
  message += ": ";
  message += ec.message();
  error(message);
}

void info(int level, std::string_view message) {
  if (current_verbosity >= level) error(message);
}

void status(std::string_view message) {
  std::string line = "\rsockcat: ";
  line += printable(message);
  line += "\x1b[K";  // clear what a longer previous line left
  write_line(line);
  status_shown = true;
}

void end_status() {
  if (!status_shown) return;
  status_shown = false;
  write_line("\n");
}

}  // namespace sockcat::diag
