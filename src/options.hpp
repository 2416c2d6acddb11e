// Everything the command line can say, as one plain struct with its defaults inline.
// src/cli/ fills it, resolved: the transform and framing rows, port numbers and Unix addresses
// are looked up and parsed there once, so nothing else parses argv or its values. No logic here.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "framing.hpp"
#include "tls_values.hpp"
#include "transform.hpp"
#include "unix_endpoint.hpp"

namespace sockcat {

// Which side of a connection the program plays.
enum class Role { listen, connect };

// How long `connect -u` waits for replies after stdin EOF when -q does not say: it ends
// once this long has passed without a datagram.
inline constexpr std::chrono::milliseconds default_udp_linger{1000};

// ... except when the peer answered none of at least this many datagrams by then: it is a
// sink, and `connect -u` exits at stdin EOF (unless -q sets a linger).
inline constexpr std::uint64_t udp_sink_datagrams = 64;

// The default of --max-message: the largest message payload a peer may send or announce.
inline constexpr std::size_t default_max_message = 1024 * 1024;

// The largest --max-message accepted: a framed client may be buffered this much.
inline constexpr std::size_t largest_max_message = 1024 * 1024 * 1024;

// Which address family names may resolve to: any (dual-stack), IPv4 only or IPv6 only.
enum class Family { any, v4, v6 };

// A port the command line named: as written (for messages) and the number it names.
struct Port {
  std::string text;          // "80", "http" as given; "" when none was
  std::uint16_t number = 0;  // the port, a service name looked up for the run's protocol (-u: udp)
};

// How long a TLS handshake may take (--ssl-handshake-timeout's default): a client that has
// not finished by then is closed, and connect gives up.
inline constexpr std::chrono::milliseconds default_tls_handshake_timeout{10000};

// --ssl and the options that shape it (every --ssl-* option implies --ssl), resolved.
struct TlsOptions {
  bool enabled = false;           // --ssl: TLS over the stream (TCP, or -U's socket)
  std::string cert_file;          // --ssl-cert: our certificate chain, PEM ("" = listen: ephemeral; connect: none)
  std::string key_file;           // --ssl-key: its private key, PEM (default: from cert_file)
  std::string trust_file;         // --ssl-trustfile: CA certificates replacing the system store ("" = system)
  std::string server_name;        // connect --ssl-servername: SNI and the name verified ("" = the host)
  std::optional<Sha256> pin;      // connect --ssl-pin: the peer certificate's SHA-256, the whole trust decision
  bool insecure = false;          // connect --ssl-insecure: verify nothing
  bool verify_clients = false;    // listen --ssl-verify: require a client certificate signed by trust_file
  std::string alpn;               // --ssl-alpn: the protocols in ALPN's wire form ("" = none offered)
  std::string ciphers;            // --ssl-ciphers: OpenSSL cipher list, TLS 1.3 suite names too ("" = default)
  TlsVersion min_version = TlsVersion::tls1_2;  // --ssl-min-version
  std::chrono::milliseconds handshake_timeout = default_tls_handshake_timeout;  // --ssl-handshake-timeout
  std::string option = "--ssl";   // the options' stem in messages: --ssl, or --forward-ssl for a --forward target

  bool operator==(const TlsOptions&) const = default;
};

// The protocol spoken to a proxy (--proxy-type).
enum class ProxyType { socks4, socks4a, socks5, http };

// The environment variable that carries --proxy-auth's USER:PASS (it stays out of `ps`). It
// is for sockcat alone: an -e/-c child, which the far side may be talking to, never gets it.
inline constexpr std::string_view proxy_auth_variable = "SOCKCAT_PROXY_AUTH";

// connect --proxy (and --forward's outgoing connections): the proxy a connection goes through.
struct ProxyOptions {
  std::string host;                // the proxy's HOST of --proxy HOST[:PORT]
  Port port;                       // its port (default 1080 for SOCKS, 3128 for HTTP, as ncat)
  ProxyType type = ProxyType::http;  // --proxy-type (default http, as ncat)
  bool authenticate = false;       // --proxy-auth or SOCKCAT_PROXY_AUTH was given
  std::string user;                // USER of USER:PASS (SOCKS4: the user id)
  std::string password;            // PASS of USER:PASS
  bool remote_dns = true;          // --proxy-dns: the proxy resolves the target (not with socks4)
};

// How long a proxy may take to answer its handshake when -w does not say.
inline constexpr std::chrono::milliseconds default_proxy_handshake_timeout{10000};

// listen --forward: where every client is relayed to, resolved from the command line.
struct ForwardTarget {
  std::string host;                          // HOST of HOST:PORT, as written (a name is resolved per client)
  Port port;                                 // PORT of HOST:PORT
  std::optional<UnixAddress> unix_address;   // unix:PATH (or unix:@NAME) instead of HOST:PORT
  TlsOptions tls;                            // --forward-ssl and its options: TLS to the target, verified as connect --ssl
};

// How long the connection to a --forward target may take before that client is closed.
inline constexpr std::chrono::milliseconds forward_connect_timeout{10000};

// listen --proxy-type socks5|http without --proxy or --forward: sockcat is a proxy server.
struct ProxyServerOptions {
  ProxyType type = ProxyType::socks5;  // --proxy-type: what clients speak, socks5 or http (nc: 5, connect)
  bool authenticate = false;           // --proxy-auth or SOCKCAT_PROXY_AUTH: clients must send USER:PASS
  std::string user;                    // USER of USER:PASS
  std::string password;                // PASS of USER:PASS
  std::vector<std::string> allow;      // --proxy-allow: destinations served (as --allow), one list per use
  std::vector<std::string> deny;       // --proxy-deny: destinations refused (as --deny), one list per use
  std::vector<std::uint16_t> ports;    // --proxy-ports: the destination ports served, ascending (empty = all)
};

// How long a proxy server's client may take to send its whole request (greeting, login and
// CONNECT), and how long reaching its destination may take (name lookup and every connect).
inline constexpr std::chrono::milliseconds proxy_server_handshake_timeout{10000};
inline constexpr std::chrono::milliseconds proxy_server_connect_timeout{10000};

// The complete, validated configuration of one run.
struct Options {
  Role role = Role::connect;
  bool udp = false;                      // -u: datagram backend instead of stream
  Family family = Family::any;           // -4 / -6
  bool unix_socket = false;              // -U: a Unix domain socket at unix_address instead of IP
  UnixAddress unix_address;              // -U: PATH, or @NAME in the Linux abstract namespace, parsed
  bool numeric_only = false;             // -n: hosts and ports must be numeric (no DNS lookups)
  std::string host;                      // connect: the peer's host name or address
  Port port;                             // listen: local port; connect: peer port; connect -z: text is the list
  std::vector<std::uint16_t> port_list;  // connect -z: the ports to check, in the order given, no duplicates
  std::string bind_address;              // listen -b: local address ("" = wildcard)
  std::string source_address;            // connect -s: local address to send from ("" = any); -U -u: as written
  std::optional<UnixAddress> unix_source;  // connect -U -u -s: the PATH or @NAME to bind, parsed
  Port source_port;                      // connect --source-port (text "" and number 0 = ephemeral)
  const Transform* transform = &transforms().front();  // listen --transform: its row (default none)
  const Framing* framing = &framings().front();        // --framing: its row in framing.hpp (default raw)
  std::size_t max_message = default_max_message;  // --max-message: largest payload, framed only
  bool half_close = true;                // shut down our send side at stdin EOF (--no-shutdown clears)
  bool zero_io = false;                  // connect -z: only check which of the PORTS accept
  std::chrono::milliseconds connect_timeout{0};  // connect -w: 0 = the system's own timeout
  std::optional<std::chrono::milliseconds> quit_after;  // -q: how long to wait after stdin EOF
  bool keep_open = false;                // listen -k: keep accepting (none: clients share stdio)
  unsigned max_conns = 0;                // listen -m: concurrent clients at most (0 = no limit)
  bool refuse_clients = false;           // listen -m 0: close every client at once, unread (ncat's meaning)
  std::chrono::milliseconds idle_timeout{0};     // -i: end a session (a server: close a client) idle this long (0 = never)
  bool broker = false;                   // listen --broker: relay each client's data to all others (implies -k)
  bool chat = false;                     // listen --chat: broker by lines, labelled, controls stripped
  std::string send_file;                 // listen --send-file: give each client this file ("" = off)
  bool nc_form = false;                  // the command line had no subcommand word (nc's spelling)
  int verbosity = 0;                     // -v count: 0 errors only, 1 addresses and connections
  // Connection options of the relay (connect, and listen with transform none):
  bool crlf = false;                     // -C: send every LF as CRLF
  std::chrono::milliseconds line_delay{0};       // -d: pause between the lines sent (0 = none)
  bool send_only = false;                // --send-only: discard what arrives; end at stdin EOF
  bool recv_only = false;                // --recv-only: never read stdin; end when the peer closes
  std::string output_file;               // -o: log every byte that crossed the wire ("" = none)
  std::string hex_dump_file;             // -x: log a hex dump of it, each direction marked ("" = none)
  bool append_output = false;            // --append-output: append to the -o/-x files, not truncate
  bool progress = false;                 // --progress: show the transfer's progress on stderr
  bool stats = false;                    // --stats: print byte counts and duration at the end
  std::vector<std::string> command;      // -e/-c: argv of the child each connection is handed to (empty = none)
  std::vector<std::string> allow;        // listen --allow: comma-separated addresses/CIDR ranges, one per use
  std::vector<std::string> deny;         // listen --deny: the same, for peers to refuse
  std::vector<std::string> allow_files;  // listen --allowfile: files of allow entries, one per line
  std::vector<std::string> deny_files;   // listen --denyfile: files of deny entries
  TlsOptions tls;                        // --ssl and its options
  std::optional<ForwardTarget> forward;  // listen --forward: relay every client to this target
  std::optional<ProxyOptions> proxy;     // connect --proxy (listen --forward --proxy: the target's way out)
  std::optional<ProxyServerOptions> proxy_server;  // listen --proxy-type without --proxy: serve as a proxy
};

}  // namespace sockcat
