#include "relay_tap.hpp"

#include <algorithm>
#include <array>
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

bool ServerTap::wanted(const Options& options) {
  return !options.output_file.empty() || !options.hex_dump_file.empty() || options.stats;
}

std::shared_ptr<ServerTap> ServerTap::open(const Options& options, bool labelled) {
  return std::shared_ptr<ServerTap>(new ServerTap(options, labelled));
}

ServerTap::ServerTap(const Options& options, bool labelled)
    : labelled_(labelled), print_stats_(options.stats), raw_path_(options.output_file),
      dump_path_(options.hex_dump_file) {
  if (!raw_path_.empty()) raw_fd_ = open_log(raw_path_, options.append_output, "-o");
  try {
    if (!dump_path_.empty()) dump_fd_ = open_log(dump_path_, options.append_output, "-x");
  } catch (...) {
    if (raw_fd_ != -1) ::close(raw_fd_);
    throw;
  }
}

ServerTap::~ServerTap() {
  if (raw_fd_ != -1) ::close(raw_fd_);
  if (dump_fd_ != -1) ::close(dump_fd_);
  if (!labelled_ || !print_stats_) return;
  std::string clients = std::to_string(clients_) + (clients_ == 1 ? " client" : " clients");
  diag::info(0, "total of " + clients + ": " +
                    format_stats(totals_[static_cast<int>(Direction::sent)],
                                 totals_[static_cast<int>(Direction::received)],
                                 std::chrono::steady_clock::now() - start_));
}

std::unique_ptr<RelayTap> ServerTap::client(const std::string& peer) {
  ++clients_;
  std::string label = labelled_ ? "#" + std::to_string(clients_) + " " + peer : std::string();
  auto tap = std::make_unique<RelayTap>(shared_from_this(), std::move(label));
  tap->start();
  return tap;
}

void ServerTap::log(const std::string& label, HexDump& dump, Direction direction, std::span<const char> bytes) {
  if (raw_fd_ != -1) {
    if (label.empty()) {
      write_log(raw_fd_, raw_path_, bytes);
    } else {
      scratch_.clear();
      format_record(label, direction, bytes, scratch_);
      write_log(raw_fd_, raw_path_, scratch_);
    }
  }
  if (dump_fd_ != -1) {
    scratch_.clear();
    dump.format(direction, bytes, scratch_, label.empty() ? std::string_view() : std::string_view(label));
    write_log(dump_fd_, dump_path_, scratch_);
  }
}

void ServerTap::write_log(int& fd, const std::string& path, std::span<const char> text) {
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

bool RelayTap::wanted(const Options& options) {
  return ServerTap::wanted(options) || progress_mode(options) != ProgressMode::off;
}

RelayTap::RelayTap(const Options& options) : server_(ServerTap::open(options, false)) {}

RelayTap::RelayTap(std::shared_ptr<ServerTap> server, std::string label)
    : server_(std::move(server)), label_(std::move(label)) {}

RelayTap::~RelayTap() {
  diag::end_status();
  stop();
  const std::uint64_t sent = bytes(Direction::sent);
  const std::uint64_t received = bytes(Direction::received);
  server_->totals_[static_cast<int>(Direction::sent)] += sent;
  server_->totals_[static_cast<int>(Direction::received)] += received;
  if (!server_->print_stats_) return;
  diag::info(0, (label_.empty() ? std::string() : label_ + ": ") + format_stats(sent, received, elapsed()));
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
  if (!bytes.empty() && server_->sees_bytes()) server_->log(label_, hex_dump_, direction, bytes);
}

void RelayTap::sent_from_file(int fd, std::uint64_t offset, std::size_t count) {
  if (!sees_bytes()) return counted(Direction::sent, count);
  thread_local std::array<char, 64 * 1024> bytes;
  while (count > 0) {
    ssize_t n = ::pread(fd, bytes.data(), std::min(count, bytes.size()), static_cast<off_t>(offset));
    if (n <= 0) return counted(Direction::sent, count);  // the file shrank: count what we cannot show
    crossed(Direction::sent, std::span<const char>(bytes.data(), static_cast<std::size_t>(n)));
    offset += static_cast<std::uint64_t>(n);
    count -= static_cast<std::size_t>(n);
  }
}

std::unique_ptr<RelayTap> client_tap(ServerTap* server, const std::string& peer) {
  return server ? server->client(peer) : nullptr;
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

void format_record(std::string_view label, Direction direction, std::span<const char> bytes, std::string& out) {
  out += '[';
  out += label;
  out += direction == Direction::sent ? " > " : " < ";
  out += std::to_string(bytes.size());
  out += "]\n";
  out.append(bytes.data(), bytes.size());
  if (bytes.empty() || bytes.back() != '\n') out += '\n';
}

}  // namespace sockcat
