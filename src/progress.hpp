// --progress: a one-line display of a running transfer on stderr (bytes each way, rate, and
// percent and ETA when the size of what we send is known). On a terminal the line is rewritten
// in place four times a second; elsewhere a plain line is printed once a second. Without
// --progress it appears by itself for a download watched from a terminal.
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "options.hpp"
#include "relay_tap.hpp"

namespace sockcat {

// What one display shows.
struct ProgressSnapshot {
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::optional<std::uint64_t> total_to_send;  // known when stdin is a regular file
  double rate = 0;                             // bytes per second, both ways, lately
  double send_rate = 0;                        // bytes sent per second since the start
};

// The display text (without "sockcat: "), e.g.
// "sent 12.0 MiB of 40.0 MiB (30%, ETA 0:04), received 0 B, 8.1 MiB/s".
std::string format_progress(const ProgressSnapshot& snapshot);

// Bytes left to read from `fd` when it is a regular file (stdin redirected from a file).
std::optional<std::uint64_t> regular_file_remaining(int fd);

// When the display is shown.
enum class ProgressMode {
  off,
  asked,      // --progress: from the start, on a terminal or not
  automatic,  // no --progress, but stderr is a terminal and stdout a regular file (a download
              // being watched): shown once the session has lasted a second, else never
};

// The mode `options` and the standard descriptors call for.
ProgressMode progress_mode(const Options& options);

// Shows the progress of `tap`'s session until cancelled (the relay ending cancels it), then
// shows the final figures once more (automatic: only if it showed any). `total_to_send` gives
// the percentage and ETA.
asio::awaitable<void> show_progress(const RelayTap& tap, std::optional<std::uint64_t> total_to_send,
                                    ProgressMode mode);

}  // namespace sockcat
