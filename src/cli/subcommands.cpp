#include "cli/subcommands.hpp"

#include "table_lookup.hpp"

namespace sockcat::cli {
namespace {

// Options every subcommand takes.
void declare_common(cxxopts::Options& spec) {
  spec.add_options()
      ("u,udp", "use UDP datagrams (sendto/recvfrom) instead of a TCP stream")
      ("4", "use IPv4 only")
      ("6", "use IPv6 only")
      ("U,unixsock", "the argument is a Unix domain socket PATH (@NAME: Linux abstract name); with -u, datagrams")
      ("n,nodns", "numeric addresses and ports only: never look a name up")
      ("no-shutdown", "keep our sending side open after stdin ends (no TCP half-close)")
      ("q,quit-after", "after stdin ends, wait at most DURATION for the peer (UDP: for a quiet DURATION; default 1s)",
       cxxopts::value<std::string>(), "DURATION")
      ("C,crlf", "send every LF as CRLF (a CRLF already there stays as it is)")
      ("d,delay", "pause DURATION between the lines sent (each line is a send of its own)",
       cxxopts::value<std::string>(), "DURATION")
      ("send-only", "only send: discard what arrives, end once stdin has ended")
      ("recv-only", "only receive: never read stdin, end when the peer closes")
      ("o,output", "write every byte sent and received, in order, to FILE", cxxopts::value<std::string>(), "FILE")
      ("x,hex-dump", "write a hex dump of what is sent (>) and received (<) to FILE",
       cxxopts::value<std::string>(), "FILE")
      ("append-output", "append to the -o and -x files instead of truncating them")
      ("progress", "show bytes, rate, percent and ETA on stderr during the transfer")
      ("stats", "print the bytes sent and received and the duration on stderr at the end")
      ("e,exec", "hand the connection to program CMDLINE as its stdin and stdout (split on blanks; no shell)",
       cxxopts::value<std::string>(), "CMDLINE")
      ("c,sh-exec", "hand the connection to /bin/sh -c COMMAND as its stdin and stdout",
       cxxopts::value<std::string>(), "COMMAND")
      ("framing", "message boundaries: raw (default, a byte stream), line or length", cxxopts::value<std::string>(),
       "NAME")
      ("max-message", "with --framing line|length: largest message a peer may send (default 1M)",
       cxxopts::value<std::string>(), "BYTES")
      ("i,idle-timeout", "end a session (a server: close a client) when no byte moves either way for DURATION",
       cxxopts::value<std::string>(), "DURATION")
      ("ssl", "use TLS over the stream (TCP or -U); connect verifies the peer unless told otherwise")
      ("ssl-cert", "our TLS certificate chain, PEM (listen default: a temporary one, made at start)",
       cxxopts::value<std::string>(), "FILE")
      ("ssl-key", "the private key of --ssl-cert, PEM (default: read from the --ssl-cert file)",
       cxxopts::value<std::string>(), "FILE")
      ("ssl-trustfile", "trust the CA certificates in FILE (PEM) instead of the system's", cxxopts::value<std::string>(),
       "FILE")
      ("ssl-verify", "listen: require a client certificate signed by --ssl-trustfile; connect: the default")
      ("ssl-alpn", "offer (connect) or accept (listen) these ALPN protocols, comma-separated",
       cxxopts::value<std::string>(), "LIST")
      ("ssl-ciphers", "the ciphers allowed, an OpenSSL cipher list (TLS 1.3 suite names too)",
       cxxopts::value<std::string>(), "LIST")
      ("ssl-min-version", "the lowest TLS version accepted: 1.2 (default) or 1.3", cxxopts::value<std::string>(),
       "VERSION")
      ("ssl-handshake-timeout", "give up a TLS handshake not finished within DURATION (default 10s)",
       cxxopts::value<std::string>(), "DURATION")
      ("proxy", "connect through the proxy at HOST[:PORT] (listen: --forward's connections)",
       cxxopts::value<std::string>(), "HOST[:PORT]")
      ("X,proxy-type", "the proxy's protocol: socks4, socks4a, socks5 or http (default; nc: 4, 5, connect); "
       "listen without --proxy: be a socks5 or http proxy server", cxxopts::value<std::string>(), "TYPE")
      ("proxy-auth", "USER:PASS for the proxy (SOCKS5, HTTP Basic; SOCKS4: USER), or that a proxy server's clients "
       "must send; or set SOCKCAT_PROXY_AUTH", cxxopts::value<std::string>(), "USER:PASS")
      ("proxy-dns", "who resolves the target through a proxy: remote (default; socks4: local) or local",
       cxxopts::value<std::string>(), "WHERE")
      ("v,verbose", "print addresses, connections and byte counts on stderr (repeatable)")
      ("h,help", "print this help and exit")
      ("positional", "", cxxopts::value<std::vector<std::string>>());
  spec.parse_positional({"positional"});
}

// The options of listen.
void declare_listen(cxxopts::Options& spec) {
  spec.add_options()
      ("p,port", "local port to listen on (number or service name; 0 picks a free one)",
       cxxopts::value<std::string>(), "PORT")
      ("b,bind", "local address to bind (default: every IPv4 and IPv6 address)",
       cxxopts::value<std::string>(), "ADDR")
      ("transform", "how to answer each client: none (default), echo, upper, ...",
       cxxopts::value<std::string>(), "NAME")
      ("list-transforms", "print the transforms and exit")
      ("k,keep-open", "keep accepting clients; with transform none they share stdin and stdout")
      ("m,max-conns", "serve at most N clients at once; close the others at once (0: every one)",
       cxxopts::value<std::string>(), "N")
      ("allow", "serve only peers in ADDRS: addresses, ranges, host names, comma-separated (repeatable)",
       cxxopts::value<std::vector<std::string>>(), "ADDRS")
      ("deny", "refuse peers in ADDRS: addresses, ranges, host names, comma-separated (repeatable)",
       cxxopts::value<std::vector<std::string>>(), "ADDRS")
      ("allowfile", "serve only peers listed in FILE (ncat's format: entries between blanks)",
       cxxopts::value<std::vector<std::string>>(), "FILE")
      ("denyfile", "refuse peers listed in FILE (ncat's format: entries between blanks)",
       cxxopts::value<std::vector<std::string>>(), "FILE")
      ("broker", "relay what each client sends to every other client, and stdin to all (implies -k)")
      ("chat", "like --broker, by lines labelled <userN>, terminal controls stripped")
      ("send-file", "give each client the whole of FILE, then close (stdin/stdout unused)",
       cxxopts::value<std::string>(), "FILE")
      ("forward", "relay every client to TARGET: HOST:PORT, [IPV6]:PORT or unix:PATH (stdin/stdout unused)",
       cxxopts::value<std::string>(), "TARGET")
      ("forward-ssl", "speak TLS to the --forward target, verified as connect --ssl verifies")
      ("forward-ssl-trustfile", "verify the --forward target against the CA certificates in FILE (PEM)",
       cxxopts::value<std::string>(), "FILE")
      ("forward-ssl-servername", "the name sent as SNI to the --forward target and verified (default: its HOST)",
       cxxopts::value<std::string>(), "NAME")
      ("forward-ssl-pin", "trust exactly the --forward target certificate whose SHA-256 is SHA256",
       cxxopts::value<std::string>(), "SHA256")
      ("forward-ssl-insecure", "verify nothing about the --forward target's TLS (an explicit opt-out)")
      ("proxy-allow", "proxy server: reach only destinations in ADDRS: addresses, ranges, host names, "
       "comma-separated (repeatable)", cxxopts::value<std::vector<std::string>>(), "ADDRS")
      ("proxy-deny", "proxy server: refuse destinations in ADDRS: addresses, ranges, host names, "
       "comma-separated (repeatable)", cxxopts::value<std::vector<std::string>>(), "ADDRS")
      ("proxy-ports", "proxy server: reach only destination PORTS, e.g. 80,443,8000-8100",
       cxxopts::value<std::string>(), "PORTS");
}

// The options of connect.
void declare_connect(cxxopts::Options& spec) {
  spec.add_options()
      ("s,source", "local address to connect from", cxxopts::value<std::string>(), "ADDR")
      ("source-port", "local port to connect from", cxxopts::value<std::string>(), "PORT")
      ("w,wait", "give up connecting after DURATION (e.g. 500ms, 5s); with -z -u, the wait for ICMP",
       cxxopts::value<std::string>(), "DURATION")
      ("z,zero-io", "only check whether PORT accepts (-u: whether ICMP refuses); PORT may be a list: 22,80,8000-8100")
      ("ssl-servername", "the name sent in TLS's SNI and verified in the certificate (default: HOST)",
       cxxopts::value<std::string>(), "NAME")
      ("ssl-pin", "trust exactly the certificate whose SHA-256 fingerprint is SHA256 (chain and name unchecked)",
       cxxopts::value<std::string>(), "SHA256")
      ("ssl-insecure", "verify nothing about the TLS peer (an explicit opt-out)");
}

constexpr Subcommand table[] = {
    {"listen", "wait for a connection (or datagrams) on a local port", "[-p] PORT | -U PATH", Role::listen,
     declare_listen},
    {"connect", "connect to HOST PORT and relay stdin/stdout over the connection", "HOST PORT | -U PATH",
     Role::connect, declare_connect},
};

}  // namespace

std::span<const Subcommand> subcommands() { return table; }

const Subcommand* find_subcommand(std::string_view name) { return find_row(subcommands(), name); }

cxxopts::Options make_spec(const Subcommand& sub) {
  cxxopts::Options spec("sockcat " + std::string(sub.name), std::string(sub.summary));
  spec.custom_help("[options]");
  spec.positional_help(std::string(sub.positional));
  spec.allow_unrecognised_options();
  declare_common(spec);
  sub.declare(spec);
  return spec;
}

std::optional<cxxopts::HelpOptionDetails> declaration(const Subcommand& sub, const std::string& name) {
  bool is_long = name.rfind("--", 0) == 0;
  std::string bare = name.substr(is_long ? 2 : 1);
  cxxopts::Options spec = make_spec(sub);
  for (const auto& group : spec.groups()) {
    for (const auto& detail : spec.group_help(group).options) {
      if (is_long ? (detail.l.size() == 1 && detail.l[0] == bare) : (bare.size() == 1 && detail.s == bare))
        return detail;
    }
  }
  return std::nullopt;
}

bool declares(const Subcommand& sub, const std::string& name) { return declaration(sub, name).has_value(); }

KnownOptions known_options() {
  KnownOptions known{{}, {"-l", "--listen", "-N"}};
  for (const Subcommand& sub : subcommands()) {
    cxxopts::Options spec = make_spec(sub);
    for (const auto& group : spec.groups()) {
      for (const auto& detail : spec.group_help(group).options) {
        std::vector<std::string>& list = detail.is_boolean ? known.flags : known.valued;
        if (!detail.s.empty()) list.push_back("-" + detail.s);
        for (const std::string& name : detail.l) list.push_back("--" + name);
      }
    }
  }
  return known;
}

std::string top_level_help() {
  std::string text =
      "sockcat: a netcat-like TCP/UDP socket tool\n\n"
      "usage:\n";
  for (const Subcommand& s : subcommands())
    text += "  sockcat " + std::string(s.name) + " [options] " + std::string(s.positional) + "\n";
  text += "  sockcat -l [options] [-p] [PORT]           nc style: listen (port 31337 if none)\n"
          "  sockcat [options] HOST PORT                nc style: connect (-p is the source port)\n"
          "  sockcat --help | --version (-V) | help [SUBCOMMAND]\n\nsubcommands:\n";
  for (const Subcommand& s : subcommands())
    text += "  " + std::string(s.name) + std::string(10 - s.name.size(), ' ') + std::string(s.summary) + "\n";
  text += "\n'sockcat SUBCOMMAND --help' lists the options of each; 'man sockcat' has the rest.\n";
  return text;
}

}  // namespace sockcat::cli
