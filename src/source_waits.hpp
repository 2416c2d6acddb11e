// What a pump tells its relay about its waits for the source, so that the relay can tell an
// idle source from a busy one (PeerEofPolicy::until_source_idle). A pump on a copy thread
// (copy_thread.hpp) reports from that thread, hence the atomics; relaxed, because the watcher
// only samples them at its ticks.
#pragma once

#include <atomic>
#include <cstdint>

namespace sockcat {

// Two stores and an increment per wait (per read on the buffered path): no clock, no system call.
struct SourceWaits {
  std::atomic<bool> waiting{false};     // a wait for the source is under way
  std::atomic<std::uint64_t> begun{0};  // waits begun so far: a new number is a new wait

  void begin() {
    waiting.store(true, std::memory_order_relaxed);
    begun.fetch_add(1, std::memory_order_relaxed);
  }
  void end() { waiting.store(false, std::memory_order_relaxed); }
};

}  // namespace sockcat
