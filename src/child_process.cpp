#include "child_process.hpp"

#include <asio/use_awaitable.hpp>
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>

#include "parse.hpp"
#include "with_error.hpp"

namespace sockcat {
namespace {


// Every child started and not yet destroyed, for end_all().
std::vector<ChildProcess*>& live_children() {
  static std::vector<ChildProcess*> children;
  return children;
}

// The NULL-terminated pointer array that posix_spawn takes, over `strings` (which it does not
// modify, whatever its signature says).
std::vector<char*> pointers_to(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (const std::string& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

// posix_spawn's attributes and file actions, destroyed with this object.
struct SpawnPlan {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;

  SpawnPlan(int input, int output) {
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attributes);
    ::posix_spawn_file_actions_adddup2(&actions, input, STDIN_FILENO);
    ::posix_spawn_file_actions_adddup2(&actions, output, STDOUT_FILENO);
    // Nothing of ours (listening socket, other clients, stdin/stdout copies) reaches the child.
    ::posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    ::posix_spawnattr_setsigdefault(&attributes, &defaults);
    ::posix_spawnattr_setpgroup(&attributes, 0);
    ::posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  }
  ~SpawnPlan() {
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attributes);
  }
  SpawnPlan(const SpawnPlan&) = delete;
  SpawnPlan& operator=(const SpawnPlan&) = delete;
};

}  // namespace

ChildProcess::ChildProcess(const asio::any_io_executor& executor, const std::string& path,
                           const std::vector<std::string>& argv, const std::vector<std::string>& environment,
                           int connection)
    : ChildProcess(executor, path, argv, environment, connection, connection) {}

ChildProcess::ChildProcess(const asio::any_io_executor& executor, const std::string& path,
                           const std::vector<std::string>& argv, const std::vector<std::string>& environment,
                           int input, int output)
    : exited_(executor) {
  SpawnPlan plan(input, output);
  std::vector<char*> arguments = pointers_to(argv);
  std::vector<char*> variables = pointers_to(environment);
  int error = ::posix_spawn(&pid_, path.c_str(), &plan.actions, &plan.attributes, arguments.data(), variables.data());
  if (error != 0) throw std::system_error(error, std::generic_category(), "cannot run " + quote(path));
  // The pidfd refers to the child even once it has exited, until it is reaped (by us only).
  // Without one (Linux before 5.3) the child could only be waited for by blocking the thread.
  std::error_code ec;
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));  // glibc 2.36's wrapper lacks C linkage in C++
  if (pidfd < 0) ec.assign(errno, std::generic_category());
  else exited_.assign(pidfd, ec);
  if (ec) {
    if (pidfd >= 0) ::close(pidfd);
    ::kill(-pid_, SIGKILL);
    reap(true);
    throw std::system_error(ec, "cannot watch the child running " + quote(path));
  }
  live_children().push_back(this);
}

ChildProcess::~ChildProcess() {
  if (!reaped_) {
    ::kill(-pid_, SIGKILL);
    reap(true);
  }
  std::erase(live_children(), this);
}

bool ChildProcess::reap(bool block) {
  if (reaped_) return true;
  int status = 0;
  pid_t result;
  do {
    result = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (result < 0 && errno == EINTR);
  if (result == 0) return false;
  reaped_ = true;  // reaped now, or (ECHILD) by someone else: either way, gone
  status_ = result == pid_ ? status : -1;
  std::error_code ignored;
  exited_.close(ignored);
  return true;
}

asio::awaitable<int> ChildProcess::wait() {
  // Check before each wait: the pidfd reports the exit once (edge-triggered), and it may have
  // happened before this wait began.
  while (!reap(false)) {
    auto [ec] = co_await exited_.async_wait(asio::posix::stream_descriptor::wait_read, with_error);
    if (ec && !reap(false)) {  // the watch itself failed (never expected): do not spin on it
      ::kill(-pid_, SIGKILL);
      reap(true);
    }
  }
  co_return status_;
}

void ChildProcess::terminate() {
  if (!reaped_) ::kill(-pid_, SIGTERM);
}

void ChildProcess::end_all(std::chrono::milliseconds grace) {
  std::vector<ChildProcess*> running;
  for (ChildProcess* child : live_children())
    if (!child->reaped_) running.push_back(child);
  if (running.empty()) return;
  for (ChildProcess* child : running) ::kill(-child->pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  for (;;) {
    std::vector<pollfd> waiting;
    for (ChildProcess* child : running)
      if (!child->reap(false))
        waiting.push_back({child->exited_.native_handle(), POLLIN, 0});
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (waiting.empty() || left.count() <= 0) break;
    ::poll(waiting.data(), waiting.size(), static_cast<int>(left.count()) + 1);
  }
  for (ChildProcess* child : running) {
    if (child->reaped_) continue;
    ::kill(-child->pid_, SIGKILL);
    child->reap(true);
  }
}

std::string describe_wait_status(int status) {
  if (status < 0) return "exited (status unknown)";
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = ::sigabbrev_np(WTERMSIG(status));
    return "killed by signal " + std::to_string(WTERMSIG(status)) + (name ? " (SIG" + std::string(name) + ")" : "");
  }
  return "ended with wait status " + std::to_string(status);
}

}  // namespace sockcat
