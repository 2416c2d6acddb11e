// listen --proxy-type socks5|http: sockcat as a proxy server. Every client is served at once on
// the one thread: it has 10 s (proxy_server_handshake_timeout) to send its whole request, or it
// is closed alone; its destination is checked and reached as proxy_destination.hpp says; then
// the two are relayed both ways by relay_pair (half-close kept, -i as the idle limit, the -v
// end line). Access lists (--allow/--deny) and -m apply to clients as in every server.
// Each message of the client is read exactly to its end, so bytes a client pipelines behind its
// request stay in the socket for the relay.
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "accept_loop.hpp"
#include "options.hpp"
#include "proxy/socks.hpp"
#include "proxy_destination.hpp"

namespace sockcat {

// What a proxy server needs besides its listener, made once at start-up.
struct ProxyService {
  ProxyType type = ProxyType::socks5;              // the protocol clients speak: socks5 or http
  std::optional<ProxyCredentials> credentials;     // what clients must send; none = no login
  DestinationRules destinations;                   // where tunnels may go
  LookupRules lookup;                              // -4/-6 and -n, for the destinations
};

// The service `options` describe (options.proxy_server set): --proxy-allow/--proxy-deny names
// resolved now. Throws (one line: a std::exception) as make_destination_list does.
ProxyService make_proxy_service(const Options& options);

// True when nothing restricts who is served or where tunnels go: none of --proxy-allow,
// --proxy-deny, --proxy-ports, --allow, --deny, --allowfile, --denyfile.
bool is_open_proxy(const Options& options);

// The start-up warning of an open proxy (one line, without "sockcat: ").
std::string open_proxy_warning();

// True when `given` are `expected`. User and password are each compared in constant time
// (CRYPTO_memcmp over a fixed 256 bytes), so the time taken tells nothing of how much of
// either was right; one longer than 255 bytes never matches.
bool credentials_match(const ProxyCredentials& expected, const ProxyCredentials& given);

// Serves every client of `listener` as `service` says until the listener is closed; `limits`
// as for every server (access lists, -m), its idle_timeout (-i) bounding each tunnel's silence.
asio::awaitable<void> serve_proxy(Listener& listener, const ProxyService& service, ServerLimits limits);

}  // namespace sockcat
