#include "relay_tap.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <unistd.h>

#include "diag.hpp"
#include "parse.hpp"
#include "progress.hpp"

namespace sockcat {
namespace {

// Opens a log file for writing; throws naming `option` and the file on failure.
int open_log(const std::string& path, bool append, const char* option) {
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
  int fd = ::open(path.c_str(), flags, 0666);
  if (fd == -1)
    throw std::runtime_error(std::string("cannot open ") + option + " file " + quote(path) + ": " +
                             std::strerror(errno));
  return fd;
}

}  // namespace

bool RelayTap::wanted(const Options& options) {
  return !options.output_file.empty() || !options.hex_dump_file.empty() || options.stats ||
         progress_mode(options) != ProgressMode::off;
}

RelayTap::RelayTap(const Options& options)
    : print_stats_(options.stats), raw_path_(options.output_file), dump_path_(options.hex_dump_file) {
  if (!raw_path_.empty()) raw_fd_ = open_log(raw_path_, options.append_output, "-o");
  try {
    if (!dump_path_.empty()) dump_fd_ = open_log(dump_path_, options.append_output, "-x");
  } catch (...) {
    if (raw_fd_ != -1) ::close(raw_fd_);
    throw;
  }
  sees_bytes_ = raw_fd_ != -1 || dump_fd_ != -1;
}

RelayTap::~RelayTap() {
  if (raw_fd_ != -1) ::close(raw_fd_);
  if (dump_fd_ != -1) ::close(dump_fd_);
  diag::end_status();
  if (print_stats_) diag::info(0, format_stats(bytes(Direction::sent), bytes(Direction::received), elapsed()));
}

void RelayTap::start() {
  started_ = true;
  start_ = std::chrono::steady_clock::now();
}

void RelayTap::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  stop_ = std::chrono::steady_clock::now();
}

std::chrono::steady_clock::duration RelayTap::elapsed() const {
  if (!started_) return {};
  return (stopped_ ? stop_ : std::chrono::steady_clock::now()) - start_;
}

void RelayTap::crossed(Direction direction, std::span<const char> bytes) {
  counted(direction, bytes.size());
  if (bytes.empty()) return;
  if (raw_fd_ != -1) write_log(raw_fd_, raw_path_, bytes);
  if (dump_fd_ != -1) {
    dump_text_.clear();
    hex_dump_.format(direction, bytes, dump_text_);
    write_log(dump_fd_, dump_path_, dump_text_);
  }
}

void RelayTap::write_log(int& fd, const std::string& path, std::span<const char> text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n > 0) {
      text = text.subspan(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    int error = n < 0 ? errno : EIO;
    diag::error("cannot write to " + quote(path) + ": " + std::strerror(error) + " (logging stopped)");
    ::close(fd);
    fd = -1;
    failed_ = true;
    return;
  }
}

std::string format_bytes(double bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  std::size_t unit = 0;
  while (bytes >= 1024 && unit + 1 < std::size(units)) {
    bytes /= 1024;
    ++unit;
  }
  char text[32];
  if (unit == 0) std::snprintf(text, sizeof text, "%.0f B", bytes);
  else std::snprintf(text, sizeof text, "%.1f %s", bytes, units[unit]);
  return text;
}

std::string format_stats(std::uint64_t sent, std::uint64_t received, std::chrono::steady_clock::duration elapsed) {
  double seconds = std::chrono::duration<double>(elapsed).count();
  char duration[32];
  std::snprintf(duration, sizeof duration, "%.3f", seconds);
  std::string line = "sent " + diag::count_of(sent, "byte") + ", received " + diag::count_of(received, "byte") + " in " +
                     duration + " s";
  if (seconds > 0) line += " (" + format_bytes(static_cast<double>(sent + received) / seconds) + "/s)";
  return line;
}

}  // namespace sockcat
