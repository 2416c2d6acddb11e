// The relay's observer: counts what crosses the wire each way (for --stats and --progress)
// and, with -o or -x, logs the bytes themselves. The relay calls it only when one of those
// options asked for it, so a plain relay pays nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>

#include "direction.hpp"
#include "hex_dump.hpp"
#include "options.hpp"

namespace sockcat {

// Counts and logs one session's traffic, and prints the --stats line when it is destroyed
// (so that every exit, failures and signals included, reports it).
class RelayTap {
 public:
  // Whether `options` ask for a tap at all (-o, -x, --stats, --progress).
  static bool wanted(const Options& options);

  // Opens the -o and -x files (truncated, or appended to with --append-output). Throws
  // std::runtime_error naming the file when one cannot be opened: before any I/O.
  explicit RelayTap(const Options& options);
  ~RelayTap();
  RelayTap(const RelayTap&) = delete;
  RelayTap& operator=(const RelayTap&) = delete;

  // Whether the relay must show this tap every byte (-o or -x), which rules out zero-copy.
  bool sees_bytes() const { return sees_bytes_; }

  // The session begins (the clock of --stats and --progress starts) / ends (it stops).
  void start();
  void stop();

  // `count` bytes crossed in `direction` unseen (by a zero-copy path).
  void counted(Direction direction, std::size_t count) { bytes_[static_cast<int>(direction)] += count; }

  // `bytes` crossed in `direction`: counts them and writes them to the -o and -x files. A
  // failed log write prints one line and stops that log; the relay goes on (see failed()).
  void crossed(Direction direction, std::span<const char> bytes);

  // Bytes that crossed in `direction` so far.
  std::uint64_t bytes(Direction direction) const { return bytes_[static_cast<int>(direction)]; }

  // Time since start() (until stop()); zero if the session never started.
  std::chrono::steady_clock::duration elapsed() const;

  // Whether writing a log failed (the run's exit status then says so).
  bool failed() const { return failed_; }

 private:
  // Writes all of `text` to the log `fd`; on failure reports it and closes that log.
  void write_log(int& fd, const std::string& path, std::span<const char> text);

  bool sees_bytes_ = false;
  bool print_stats_ = false;
  bool failed_ = false;
  std::uint64_t bytes_[2] = {0, 0};
  bool started_ = false;
  bool stopped_ = false;
  std::chrono::steady_clock::time_point start_{};
  std::chrono::steady_clock::time_point stop_{};
  int raw_fd_ = -1;          // -o: the raw bytes of both directions, in order
  int dump_fd_ = -1;         // -x: the hex dump
  std::string raw_path_;
  std::string dump_path_;
  HexDump hex_dump_;
  std::string dump_text_;    // one chunk's dump, reused (bounded by one relay buffer's dump)
};

// "12.3 MiB", "512 B": a byte count for people.
std::string format_bytes(double bytes);

// The --stats line (without "sockcat: "): "sent N bytes, received M bytes in S s (R/s)".
std::string format_stats(std::uint64_t sent, std::uint64_t received, std::chrono::steady_clock::duration elapsed);

}  // namespace sockcat
