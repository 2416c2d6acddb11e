// The stream backend (TCP, or Unix with -U): listen or connect, then serve clients in the mode the options
// choose (a table: file, broker, replying transform, shared stdio) or relay one connection
// with stdin/stdout.
#include <asio/this_coro.hpp>
#include <unistd.h>

#include "access_list.hpp"
#include "backend.hpp"
#include "broker_server.hpp"
#include "diag.hpp"
#include "exec_session.hpp"
#include "exit_status.hpp"
#include "file_server.hpp"
#include "framed_client.hpp"
#include "forward_server.hpp"
#include "framed_server.hpp"
#include "parse.hpp"
#include "progress.hpp"
#include "proxy_server.hpp"
#include "relay.hpp"
#include "relay_tap.hpp"
#include "send_shaper.hpp"
#include "session_end.hpp"
#include "stdio.hpp"
#include "stream_server.hpp"
#include "transform.hpp"
#include "transport/transport.hpp"

namespace sockcat {
namespace {

// Maps how a relay ended to an exit status, printing one line for a failure.
int relay_status(const RelayResult& result, const std::string& peer, const Options& options) {
  const PumpResult& down = result.received;
  const PumpResult& up = result.sent;
  diag::info(1, "connection with " + peer + " closed (" + byte_counts(down.bytes, up.bytes) + ")");
  if (result.idle) {
    diag::error(idle_timeout_message(options.idle_timeout));
    return exit_failure;
  }
  if (result.quit) {
    diag::info(1, options.send_only ? "stdin ended: --send-only does not wait for the peer"
                                    : "quitting: -q time after stdin ended is up");
    return exit_ok;
  }
  if (result.source_idle)
    diag::info(1, "the peer has closed and stdin delivered nothing for " +
                      std::to_string(default_source_idle_limit.count()) + " ms: done");
  if (down.write_error) return stdout_status(down.write_error);
  if (down.read_error != asio::error::eof) {
    diag::error(peer, down.read_error);
    return exit_failure;
  }
  // A send that failed before the peer's EOF arrived met a reset: the connection was aborted
  // (the kernel may report it as EPIPE once another call has consumed the reset). After the
  // peer's EOF, a refused send only hit data the peer had said it would not read.
  bool send_failed = up.write_error && up.write_error != asio::error::operation_aborted;
  if (send_failed && !result.peer_closed_first) {
    diag::error(peer, asio::error::connection_reset);
    return exit_failure;
  }
  if (send_failed) diag::info(1, "the peer stopped reading: " + up.write_error.message());
  if (up.read_error && up.read_error != asio::error::eof && up.read_error != asio::error::operation_aborted) {
    diag::error("stdin", up.read_error);
    return exit_failure;
  }
  return exit_ok;
}

// What the relay does with stdin once the peer has closed. With a person at the keyboard
// nothing queued can be lost, so the session ends. From a pipe or file, the peer may only have
// half-closed: a client sends the rest of stdin, as nc and ncat do; a one-client listener sends
// what stdin still delivers and ends once it idles, so that `sockcat -l PORT > file` with an
// open, silent stdin ends when its client has gone (nc -l and ncat -l end at once).
PeerEofPolicy peer_eof_policy(const Options& options) {
  if (::isatty(STDIN_FILENO)) return PeerEofPolicy::stop_sending;
  return options.role == Role::listen ? PeerEofPolicy::until_source_idle : PeerEofPolicy::keep_sending;
}

// Relays `connection` with stdin/stdout until both directions are done; `tap` (null unless -o,
// -x, --stats or --progress asked for one) watches it.
asio::awaitable<int> relay_with_stdio(Connection& connection, const Options& options, RelayTap* tap) {
  auto executor = co_await asio::this_coro::executor;
  // --recv-only leaves stdin alone (a closed descriptor is never read); --send-only discards.
  asio::posix::stream_descriptor in(executor);
  if (!options.recv_only) in = open_stdio(executor, STDIN_FILENO);
  StdoutSink out = options.send_only ? StdoutSink(open_null_sink(executor), false)
                                     : StdoutSink(open_stdio(executor, STDOUT_FILENO), true);
  RelayOptions relay_options;
  relay_options.half_close = options.half_close;
  relay_options.on_peer_eof = peer_eof_policy(options);
  relay_options.quit_after = options.quit_after;
  if (options.send_only) relay_options.quit_after = std::chrono::milliseconds(0);
  relay_options.read_source = !options.recv_only;
  if (options.idle_timeout.count() > 0) relay_options.idle_timeout = options.idle_timeout;
  std::optional<SendShaper> shaper;
  if (options.crlf || options.line_delay.count() > 0) {
    shaper.emplace(executor, options.crlf, options.line_delay, relay_buffer_size);
    relay_options.shaper = &*shaper;
  }
  relay_options.tap = tap;
  relay_options.copy_threads = true;  // the relay is this process's last job: threads cost nothing else
  if (tap) tap->start();
  RelayResult result;
  if (const ProgressMode mode = tap ? progress_mode(options) : ProgressMode::off; mode != ProgressMode::off) {
    std::optional<std::uint64_t> total = options.recv_only ? std::nullopt : regular_file_remaining(STDIN_FILENO);
    using namespace asio::experimental::awaitable_operators;
    result = std::get<0>(co_await (relay(connection, in, out, relay_options) || show_progress(*tap, total, mode)));
  } else {
    result = co_await relay(connection, in, out, relay_options);
  }
  if (tap) tap->stop();
  int status = relay_status(result, connection.peer(), options);
  if (status == exit_ok && tap && tap->failed()) status = exit_failure;
  co_return status;
}

// What every listen mode needs besides the options: the limits on clients, with the access
// lists (built before listening: an unreadable --allowfile ends the run there).
struct ServerContext {
  Listener& listener;
  const Options& options;
  ServerLimits limits;  // limits.tap: -o, -x, --stats (--progress too for one client); null when not asked
  const ChildCommand* command;  // -e/-c, found before listening; null without them
};

asio::awaitable<int> serve_file_mode(ServerContext& server) {
  co_return co_await serve_file(server.listener, server.options.send_file, server.options.keep_open, server.limits);
}

asio::awaitable<int> serve_broker_mode(ServerContext& server) {
  const Options& options = server.options;
  co_return co_await serve_broker(server.listener, server.limits,
                                  BrokerMode{options.chat, !options.recv_only, !options.send_only});
}

// A replying transform over whole messages (--framing line or length).
asio::awaitable<int> serve_framed_mode(ServerContext& server) {
  const Options& options = server.options;
  const Framing& framing = *options.framing;
  co_await serve_framed(server.listener,
                        FramedService{&framing, options.transform->reply, options.max_message},
                        server.limits);
  co_return exit_ok;
}

asio::awaitable<int> serve_replies_mode(ServerContext& server) {
  co_await serve_replies(server.listener, server.options.transform->reply, server.limits);
  co_return exit_ok;
}

// --forward: every client relayed to the target.
asio::awaitable<int> serve_forward_mode(ServerContext& server) {
  const Options dial = forward_dial_options(server.options);
  co_await serve_forward(server.listener, dial, server.limits);
  co_return exit_ok;
}

// listen --proxy-type socks5|http: a proxy server. Names in --proxy-allow/--proxy-deny are
// resolved here, before the first client is taken.
asio::awaitable<int> serve_proxy_mode(ServerContext& server) {
  const ProxyService service = make_proxy_service(server.options);
  co_await serve_proxy(server.listener, service, server.limits);
  co_return exit_ok;
}

// Before a proxy server listens: an open one is announced, whatever the verbosity.
void check_proxy_server(const Options& options) {
  if (is_open_proxy(options)) diag::error(open_proxy_warning());
}

// -e/-c with -k: one child per client.
asio::awaitable<int> serve_commands_mode(ServerContext& server) {
  co_await serve_commands(server.listener, *server.command, server.limits);
  co_return exit_ok;
}

asio::awaitable<int> serve_shared_stdio_mode(ServerContext& server) {
  co_return co_await serve_shared_stdio(server.listener, server.limits, server.options.half_close);
}

// listen with transform none and no -k: one client (the first one allowed) relayed with
// stdin/stdout as nc does, or handed to the -e/-c program.
asio::awaitable<int> serve_one_client(ServerContext& server) {
  const ChildCommand* command = server.command;
  std::unique_ptr<Connection> client = co_await accept_admitted(server.listener, server.limits);
  diag::info(1, "connection from " + client->peer());
  std::unique_ptr<RelayTap> tap = client_tap(server.limits.tap, client->peer());
  if (command) {
    bool ran = co_await hand_to_command(*client, *command, "connection from " + client->peer(), tap.get());
    co_return ran && !(tap && tap->failed()) ? exit_ok : exit_failure;  // a failed log write is exit 1
  }
  co_return co_await relay_with_stdio(*client, server.options, tap.get());
}

// One way of serving the listening socket.
struct ServerMode {
  bool (*wanted)(const Options& options);       // whether the options ask for this mode
  void (*check)(const Options& options);        // run before listening; throws; may be null
  asio::awaitable<int> (*serve)(ServerContext& server);  // the exit status
};

// The modes, the first wanted one used; the last is wanted always.
constexpr ServerMode server_modes[] = {
    {[](const Options& o) { return o.proxy_server.has_value(); }, check_proxy_server, serve_proxy_mode},
    {[](const Options& o) { return o.forward.has_value(); }, check_forward_target, serve_forward_mode},
    {[](const Options& o) { return !o.send_file.empty(); }, [](const Options& o) { check_file_to_send(o.send_file); },
     serve_file_mode},
    {[](const Options& o) { return o.broker; }, nullptr, serve_broker_mode},
    {[](const Options& o) { return o.transform->reply && o.framing->whole_messages; },
     nullptr, serve_framed_mode},
    {[](const Options& o) { return o.transform->reply != nullptr; }, nullptr, serve_replies_mode},
    {[](const Options& o) { return !o.command.empty() && o.keep_open; }, nullptr, serve_commands_mode},
    {[](const Options& o) { return o.keep_open; }, nullptr, serve_shared_stdio_mode},
    {[](const Options&) { return true; }, nullptr, serve_one_client},
};

const ServerMode& choose_server_mode(const Options& options) {
  for (const ServerMode& mode : server_modes)
    if (mode.wanted(options)) return mode;
  return server_modes[std::size(server_modes) - 1];
}

// The tap of a listener, opened before any I/O (null when nothing is logged): a mode that
// serves one client logs -o as raw bytes, the others label every record. Only the relay
// with stdin/stdout shows --progress (asked for, or automatic).
std::shared_ptr<ServerTap> open_listener_tap(const ServerMode& mode, const Options& options) {
  bool one_client = !options.keep_open && (mode.serve == serve_one_client || mode.serve == serve_file_mode);
  bool relays_stdio = mode.serve == serve_one_client && options.command.empty();
  if (!(relays_stdio ? RelayTap::wanted(options) : ServerTap::wanted(options))) return nullptr;
  return ServerTap::open(options, !one_client);
}

}  // namespace

asio::awaitable<int> stream_listen(const Options& options) {
  const ServerMode& mode = choose_server_mode(options);
  if (mode.check) mode.check(options);
  const AccessList access = make_access_list(options);
  // The -e/-c program is found once, before listening: a missing one ends the run here, and
  // one that disappears later costs only the clients that would have run it.
  std::optional<ChildCommand> command;
  if (!options.command.empty()) command.emplace(options.command, options.crlf);
  std::shared_ptr<ServerTap> tap = open_listener_tap(mode, options);
  auto executor = co_await asio::this_coro::executor;
  std::unique_ptr<Listener> listener = choose_transport(options).listen(executor, options);
  ServerContext server{*listener, options,
                    {options.max_conns, options.idle_timeout, access.empty() ? nullptr : &access, tap.get(),
                     options.refuse_clients},
                    command ? &*command : nullptr};
  co_return co_await mode.serve(server);
}

namespace {

// What a client does with its connection: hands it to -e/-c's program, exchanges framed
// messages (--framing), or relays it with stdin/stdout (watched by `tap`, if any).
asio::awaitable<int> serve_connection(Connection& connection, const Options& options,
                                      const std::optional<ChildCommand>& command, RelayTap* tap) {
  if (command) {
    bool ran = co_await hand_to_command(connection, *command, "connection to " + connection.peer(), tap);
    co_return ran && !(tap && tap->failed()) ? exit_ok : exit_failure;  // a failed log write is exit 1
  }
  if (options.framing->whole_messages)
    co_return co_await framed_session(connection, options, tap);
  co_return co_await relay_with_stdio(connection, options, tap);
}

}  // namespace

asio::awaitable<int> stream_connect(const Options& options) {
  std::optional<ChildCommand> command;  // a missing program ends the run before it connects
  if (!options.command.empty()) command.emplace(options.command, options.crlf);
  std::optional<RelayTap> tap;  // opens -o/-x before any I/O; prints --stats however we end
  if (command ? ServerTap::wanted(options) : RelayTap::wanted(options)) tap.emplace(options);  // -e: no --progress
  const Transport& transport = choose_transport(options);
  if (options.zero_io) co_return co_await transport.check(options);
  std::unique_ptr<Connection> connection = co_await transport.dial(options);
  co_return co_await serve_connection(*connection, options, command, tap ? &*tap : nullptr);
}

}  // namespace sockcat
