#include "progress.hpp"

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <cstdio>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.hpp"
#include "with_error.hpp"

namespace sockcat {
namespace {

// How often the display changes: on a terminal, and in a log (stderr not a terminal).
constexpr std::chrono::milliseconds terminal_interval{250};
constexpr std::chrono::milliseconds log_interval{1000};
// How long a session runs before the automatic display appears: short ones never show it.
constexpr std::chrono::milliseconds automatic_delay{1000};

// "0:04", "1:02:03".
std::string format_eta(double seconds) {
  auto whole = static_cast<unsigned long long>(seconds + 0.5);
  char text[32];
  if (whole >= 3600) std::snprintf(text, sizeof text, "%llu:%02llu:%02llu", whole / 3600, whole / 60 % 60, whole % 60);
  else std::snprintf(text, sizeof text, "%llu:%02llu", whole / 60, whole % 60);
  return text;
}

}  // namespace

std::string format_progress(const ProgressSnapshot& snapshot) {
  std::string text = "sent " + format_bytes(static_cast<double>(snapshot.sent));
  if (snapshot.total_to_send) {
    std::uint64_t total = *snapshot.total_to_send;
    text += " of " + format_bytes(static_cast<double>(total));
    unsigned percent = total == 0 ? 100 : static_cast<unsigned>(std::min<std::uint64_t>(snapshot.sent, total) * 100 / total);
    text += " (" + std::to_string(percent) + "%";
    if (snapshot.sent < total && snapshot.send_rate > 0)
      text += ", ETA " + format_eta(static_cast<double>(total - snapshot.sent) / snapshot.send_rate);
    text += ")";
  }
  text += ", received " + format_bytes(static_cast<double>(snapshot.received)) + ", " +
          format_bytes(snapshot.rate) + "/s";
  return text;
}

std::optional<std::uint64_t> regular_file_remaining(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  off_t at = ::lseek(fd, 0, SEEK_CUR);
  if (at < 0 || at > st.st_size) return std::nullopt;
  return static_cast<std::uint64_t>(st.st_size - at);
}

ProgressMode progress_mode(const Options& options) {
  if (options.progress) return ProgressMode::asked;
  struct stat out {};
  bool download = ::fstat(STDOUT_FILENO, &out) == 0 && S_ISREG(out.st_mode);
  return download && ::isatty(STDERR_FILENO) == 1 ? ProgressMode::automatic : ProgressMode::off;
}

asio::awaitable<void> show_progress(const RelayTap& tap, std::optional<std::uint64_t> total_to_send,
                                    ProgressMode mode) {
  const bool terminal = ::isatty(STDERR_FILENO) == 1;
  const std::chrono::milliseconds interval = terminal ? terminal_interval : log_interval;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  std::uint64_t last_total = 0;
  auto last_time = std::chrono::steady_clock::now();
  bool over = false;
  bool shown = false;
  while (!over) {
    timer.expires_after(interval);
    auto [ec] = co_await timer.async_wait(with_error);
    over = ec == asio::error::operation_aborted;
    if (mode == ProgressMode::automatic && !shown && (over || tap.elapsed() < automatic_delay)) continue;
    shown = true;
    ProgressSnapshot snapshot{tap.bytes(Direction::sent), tap.bytes(Direction::received), total_to_send, 0, 0};
    auto now = std::chrono::steady_clock::now();
    std::uint64_t total = snapshot.sent + snapshot.received;
    double lately = std::chrono::duration<double>(now - last_time).count();
    double since_start = std::chrono::duration<double>(tap.elapsed()).count();
    if (over) lately = since_start;  // the last display: the average of the whole session
    if (over) last_total = 0;
    if (lately > 0) snapshot.rate = static_cast<double>(total - last_total) / lately;
    if (since_start > 0) snapshot.send_rate = static_cast<double>(snapshot.sent) / since_start;
    last_total = total;
    last_time = now;
    if (terminal) diag::status(format_progress(snapshot));
    else diag::info(0, format_progress(snapshot));
  }
  diag::end_status();
}

}  // namespace sockcat
