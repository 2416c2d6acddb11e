// The SOCKS handshakes as bytes: SOCKS4 and SOCKS4a CONNECT (client side), SOCKS5 CONNECT with
// RFC 1929 username/password (both sides). Pure code: no Asio, no sockets, no I/O, so the fuzz
// target exercises it alone. Every incoming message goes through two steps: a framing step on
// the bytes received so far (read N more, or the message is the first L bytes, or it cannot be
// one), then a decode step on exactly those L bytes. Nothing after the L bytes is looked at:
// it belongs to whoever reads next (the session, after the last reply).
// The pieces shared with the HTTP CONNECT codec (ProxyTarget, ProxyCredentials, Frame) live
// here too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "parse.hpp"

namespace sockcat {

// Where a tunnel goes: a host name or an IP literal (IPv6 without brackets), and a port.
struct ProxyTarget {
  std::string host;
  std::uint16_t port = 0;
  bool operator==(const ProxyTarget&) const = default;
};

// The user and password of --proxy-auth (SOCKS5 username/password, HTTP Basic).
struct ProxyCredentials {
  std::string user;
  std::string password;
  bool operator==(const ProxyCredentials&) const = default;
};

// The bytes of an encoded message, as an encoder's success (Parsed<std::string> would be ambiguous).
struct Wire {
  std::string bytes;
};

// What a framing step found at the start of the bytes received so far.
struct Frame {
  enum class Status {
    need_more,  // read `size` more bytes (>= 1): no message starting so ends sooner
    complete,   // the message is received[0, size); the bytes after it are not part of it
    invalid,    // no message starts this way: `problem` says why in one line
  };
  Status status = Status::need_more;
  std::size_t size = 1;
  std::string problem;

  // The three outcomes, for the framing functions and the tests.
  static Frame more(std::size_t bytes) { return {Status::need_more, bytes, {}}; }
  static Frame whole(std::size_t bytes) { return {Status::complete, bytes, {}}; }
  static Frame bad(std::string why) { return {Status::invalid, 0, std::move(why)}; }
};

// ---- SOCKS4 and SOCKS4a, client side ----

// A SOCKS4 CONNECT request: VN 4, CD 1, port, IPv4 address, user id, NUL. The host must be an
// IPv4 literal but not 0.0.0.x with x != 0 (SOCKS4a's mark for a name), the port 1-65535, the
// user id at most 255 bytes without NUL; otherwise the problem, in one line.
Parsed<Wire> encode_socks4_connect(const ProxyTarget& target, std::string_view user_id);

// A SOCKS4a CONNECT request: as SOCKS4 with the address 0.0.0.1, then the host name and a NUL
// after the user id, so that the proxy resolves the name. An IPv4 literal gives a plain SOCKS4
// request. The name is 1-255 bytes without control bytes; an IPv6 literal is a problem (SOCKS4
// has no IPv6).
Parsed<Wire> encode_socks4a_connect(const ProxyTarget& target, std::string_view user_id);

// Frames a SOCKS4 reply: always 8 bytes (never invalid: every byte is checked by decoding).
Frame frame_socks4_reply(std::string_view received);

// Decodes a framed SOCKS4 reply: the address and port the proxy reports when the request is
// granted (CD 90); otherwise "SOCKS4 reply: " and the code as text. VN must be 0 (4, which
// some servers echo, is tolerated).
Parsed<ProxyTarget> decode_socks4_reply(std::string_view message);

// A SOCKS4 reply code as text: "request granted", "request rejected or failed", ... and
// "unknown reply code N".
std::string socks4_reply_text(std::uint8_t code);

// ---- SOCKS5 (RFC 1928, RFC 1929) ----

// The authentication methods sockcat speaks, and the method selection's "none acceptable".
inline constexpr std::uint8_t socks5_no_auth = 0x00;
inline constexpr std::uint8_t socks5_password_auth = 0x02;
inline constexpr std::uint8_t socks5_no_acceptable = 0xff;

// The REP codes of a SOCKS5 reply (RFC 1928 section 6).
enum class Socks5Rep : std::uint8_t {
  succeeded = 0,
  general_failure = 1,
  not_allowed = 2,
  network_unreachable = 3,
  host_unreachable = 4,
  connection_refused = 5,
  ttl_expired = 6,
  command_not_supported = 7,
  address_type_not_supported = 8,
};

// A SOCKS5 REP code as text: "succeeded", "general SOCKS server failure", "connection not
// allowed by ruleset", ..., "address type not supported", and "unknown reply code N".
std::string socks5_reply_text(std::uint8_t rep);

// -- client side: what `connect --proxy` sends and reads, in order --

// The greeting: VER 5 and the methods offered, "no auth" and, with credentials, username/password.
std::string encode_socks5_greeting(bool with_password);

// Frames the server's method selection: always 2 bytes; invalid at once if VER is not 5.
Frame frame_socks5_choice(std::string_view received);

// Decodes a framed method selection: the method chosen, which must be one offered (password
// only if `offered_password`); 0xff and anything else are a problem.
Parsed<std::uint8_t> decode_socks5_choice(std::string_view message, bool offered_password);

// The RFC 1929 request: VER 1, the user (1-255 bytes) and the password (0-255 bytes; RFC 1929
// asks for 1, but curl sends an empty one too), each after its length. Anything else is a problem.
Parsed<Wire> encode_socks5_password(const ProxyCredentials& credentials);

// Frames the RFC 1929 reply: always 2 bytes.
Frame frame_socks5_password_reply(std::string_view received);

// What decode_socks5_password_reply returns when the proxy took the user and password.
struct Authenticated {};

// Decodes a framed RFC 1929 reply: STATUS 0 is success; any other status is "SOCKS5 proxy:
// username/password refused". VER must be 1 (5, which some servers send, is tolerated).
Parsed<Authenticated> decode_socks5_password_reply(std::string_view message);

// The CONNECT request: VER 5, CMD 1, RSV 0, then ATYP 1 for an IPv4 literal, 4 for an IPv6
// literal, or 3 for a name (1-255 bytes, no control bytes), then the port (1-65535). Anything
// else is a problem.
Parsed<Wire> encode_socks5_connect(const ProxyTarget& target);

// Frames a CONNECT reply, whose length is known after 5 bytes (4 for an IP address): invalid
// at once for VER other than 5 or an unknown ATYP. RSV is not checked.
Frame frame_socks5_reply(std::string_view received);

// Decodes a framed CONNECT reply: the bound address and port when REP is 0 (a name as sent,
// an IP address as text); otherwise "SOCKS5 reply: " and the REP code as text.
Parsed<ProxyTarget> decode_socks5_reply(std::string_view message);

// -- server side: what `listen --proxy-type socks5` reads and sends, in order --

// A client's greeting: the methods it offers, in its order (possibly none).
struct Socks5Greeting {
  std::vector<std::uint8_t> methods;
  // Whether `method` is among those offered.
  bool offers(std::uint8_t method) const;
};

// Frames a greeting: VER 5, NMETHODS, the methods. Invalid at once if VER is not 5.
Frame frame_socks5_greeting(std::string_view received);

// Decodes a framed greeting; a problem only for bytes that frame_socks5_greeting did not frame.
Parsed<Socks5Greeting> decode_socks5_greeting(std::string_view message);

// The method selection: VER 5 and `method` (socks5_no_acceptable when none of the client's will do).
std::string encode_socks5_choice(std::uint8_t method);

// Frames an RFC 1929 request: VER 1, ULEN, UNAME, PLEN, PASSWD. Invalid at once if VER is not 1.
Frame frame_socks5_password(std::string_view received);

// Decodes a framed RFC 1929 request into its user and password (either may be empty: the
// comparison with the configured ones refuses those). A problem only for unframed bytes.
Parsed<ProxyCredentials> decode_socks5_password(std::string_view message);

// The RFC 1929 reply: VER 1 and STATUS 0 when `accepted`, 1 otherwise.
std::string encode_socks5_password_reply(bool accepted);

// Frames a request: VER 5, CMD, RSV, ATYP, DST.ADDR, DST.PORT. Invalid at once if VER is not
// 5. A request with an unknown ATYP is framed as its first 4 bytes (its length cannot be
// known), so that decoding can say so and the caller can answer 8 and close.
Frame frame_socks5_request(std::string_view received);

// What a SOCKS5 server makes of a framed request.
struct Socks5Request {
  ProxyTarget target;                // a CONNECT's destination (meaningful without a refusal)
  std::optional<Socks5Rep> refusal;  // set: answer with this code and close the connection
  std::string problem;               // why it is refused, one line (empty without a refusal)
};

// Decodes a framed request: a CONNECT to an IPv4, IPv6 or name (1-255 bytes, no control
// bytes) destination; a refusal with command_not_supported for BIND, UDP ASSOCIATE and other
// commands, address_type_not_supported for an unknown ATYP, general_failure for a bad name
// or unframed bytes. Port 0 is passed on (connecting to it fails).
Socks5Request decode_socks5_request(std::string_view message);

// The CONNECT reply: VER 5, `rep`, RSV 0, and the bound address, which must be an IPv4 or
// IPv6 literal (ATYP 1 or 4), and port; otherwise a problem. Refusals may send 0.0.0.0 port 0.
Parsed<Wire> encode_socks5_reply(Socks5Rep rep, const ProxyTarget& bound = {"0.0.0.0", 0});

}  // namespace sockcat
