// The observers of traffic: count what crosses the wire each way (for --stats and --progress)
// and, with -o or -x, log the bytes themselves. A session is handed a tap only when one of
// those options asked for it, so a session that logs nothing pays one pointer test per chunk.
//
// A run that relays one connection (connect, listen without -k) has one RelayTap, which
// writes -o as the raw bytes and prints one unlabelled --stats line. A server that may take
// several clients has one ServerTap, which gives each client a labelled RelayTap: every -o
// record, -x line and --stats line names the client as "#N ADDR:PORT" (N counts the
// server's clients from 1), and a total --stats line follows at exit.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "direction.hpp"
#include "hex_dump.hpp"
#include "options.hpp"

namespace sockcat {

class RelayTap;

// What every tap of one run shares: the -o and -x files (and one buffer to format records
// in), and, for a server, the clients counted so far and their totals for --stats.
class ServerTap : public std::enable_shared_from_this<ServerTap> {
 public:
  // Whether `options` ask a server to log (-o, -x, --stats).
  static bool wanted(const Options& options);

  // Opens the -o and -x files (truncated, or appended to with --append-output). With
  // `labelled`, every record names its client; without, -o holds the raw bytes (one
  // connection). Throws std::runtime_error naming the file when one cannot be opened.
  static std::shared_ptr<ServerTap> open(const Options& options, bool labelled);

  // Labelled with --stats: prints the total line ("total of N clients: sent ...").
  ~ServerTap();
  ServerTap(const ServerTap&) = delete;
  ServerTap& operator=(const ServerTap&) = delete;

  // A tap for a new client at `peer`, numbered after the clients before it, started now.
  std::unique_ptr<RelayTap> client(const std::string& peer);

  // Whether the taps must see every byte (-o or -x), which rules out zero-copy.
  bool sees_bytes() const { return raw_fd_ != -1 || dump_fd_ != -1; }

  // Whether writing a log failed.
  bool failed() const { return failed_; }

 private:
  friend class RelayTap;
  ServerTap(const Options& options, bool labelled);

  // Writes `bytes`, which crossed in `direction` the connection of the client `label` names
  // ("" unlabelled), to the -o and -x files; `dump` keeps that client's offsets.
  void log(const std::string& label, HexDump& dump, Direction direction, std::span<const char> bytes);

  // Writes all of `text` to the log `fd`; on failure reports it and closes that log.
  void write_log(int& fd, const std::string& path, std::span<const char> text);

  bool labelled_;
  bool print_stats_;
  bool failed_ = false;
  unsigned clients_ = 0;
  std::uint64_t totals_[2] = {0, 0};  // bytes of the clients that have ended, per direction
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  int raw_fd_ = -1;   // -o
  int dump_fd_ = -1;  // -x
  std::string raw_path_;
  std::string dump_path_;
  std::string scratch_;  // one record being formatted, reused (bounded by one chunk's dump)
};

// Counts and logs one connection's traffic, and prints its --stats line when it is destroyed
// (so that every exit, failures and signals included, reports it).
class RelayTap {
 public:
  // Whether `options` ask for a tap on a one-connection relay (-o, -x, --stats, --progress).
  static bool wanted(const Options& options);

  // The tap of a one-connection run: opens the -o and -x files as ServerTap::open does
  // (unlabelled). Throws std::runtime_error naming the file: before any I/O.
  explicit RelayTap(const Options& options);

  // The tap of one client of `server`; `label` names it in every record ("" for none).
  RelayTap(std::shared_ptr<ServerTap> server, std::string label);

  ~RelayTap();
  RelayTap(const RelayTap&) = delete;
  RelayTap& operator=(const RelayTap&) = delete;

  // Whether the relay must show this tap every byte (-o or -x), which rules out zero-copy.
  bool sees_bytes() const { return server_->sees_bytes(); }

  // The session begins (the clock of --stats and --progress starts) / ends (it stops).
  void start();
  void stop();

  // `count` bytes crossed in `direction` unseen (by a zero-copy path).
  void counted(Direction direction, std::size_t count) { bytes_[static_cast<int>(direction)] += count; }

  // `bytes` crossed in `direction`: counts them and writes them to the -o and -x files. A
  // failed log write prints one line and stops that log; the relay goes on (see failed()).
  void crossed(Direction direction, std::span<const char> bytes);

  // `count` bytes of the regular file `fd` from `offset` were sent unseen (sendfile): counts
  // them and, when logging bytes, reads them back from the file for the logs.
  void sent_from_file(int fd, std::uint64_t offset, std::size_t count);

  // Bytes that crossed in `direction` so far.
  std::uint64_t bytes(Direction direction) const { return bytes_[static_cast<int>(direction)]; }

  // Time since start() (until stop()); zero if the session never started.
  std::chrono::steady_clock::duration elapsed() const;

  // Whether writing a log failed (the run's exit status then says so).
  bool failed() const { return server_->failed(); }

 private:
  std::shared_ptr<ServerTap> server_;
  std::string label_;  // "#N ADDR:PORT" for a server's client; "" for a one-connection run
  std::uint64_t bytes_[2] = {0, 0};
  bool started_ = false;
  bool stopped_ = false;
  std::chrono::steady_clock::time_point start_{};
  std::chrono::steady_clock::time_point stop_{};
  HexDump hex_dump_;
};

// The tap for a new client at `peer` of a server whose tap is `server`: null when the server
// logs nothing (the one pointer test that is all a quiet server pays per client).
std::unique_ptr<RelayTap> client_tap(ServerTap* server, const std::string& peer);

// "12.3 MiB", "512 B": a byte count for people.
std::string format_bytes(double bytes);

// The --stats line (without "sockcat: "): "sent N bytes, received M bytes in S s (R/s)".
std::string format_stats(std::uint64_t sent, std::uint64_t received, std::chrono::steady_clock::duration elapsed);

// Appends to `out` the labelled -o record of `bytes`, which crossed in `direction` the
// connection of the client `label` names: a header line "[LABEL < N]" ('<' received from the
// client, '>' sent to it; N the byte count), the N bytes as they were, and a newline when
// they do not end with one (so the next header starts a line, and a reader that takes N
// bytes after the header and then skips that newline gets the exact bytes back).
void format_record(std::string_view label, Direction direction, std::span<const char> bytes, std::string& out);

}  // namespace sockcat
