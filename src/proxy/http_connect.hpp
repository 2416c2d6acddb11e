// HTTP/1.1 CONNECT as bytes, both sides: the request a proxy client sends and the response head
// it reads; the request head a proxy server reads, its CONNECT authority and Basic credentials,
// and the responses it sends. Pure code: no Asio, no sockets, no I/O (Base64 is OpenSSL's
// libcrypto). Heads are framed as SOCKS messages are (socks.hpp): frame_http_head on the bytes
// received so far, then a decode step on exactly the head; the bytes after it are the tunnel's.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parse.hpp"
#include "proxy/socks.hpp"

namespace sockcat {

// The longest head either side reads (start line, header fields and the blank line), and the
// most header fields one may have.
inline constexpr std::size_t http_head_limit = 8192;
inline constexpr std::size_t http_field_limit = 100;

// Frames a request or response head: it ends with its first empty line; lines end in CRLF or
// a bare LF, so at most 2 more bytes are ever asked for. Invalid once the head cannot end
// within http_head_limit bytes or has more than http_field_limit lines after the start line
// (a server answers 431). Scans from the start on every call (at most http_head_limit bytes).
Frame frame_http_head(std::string_view received);

// -- client side: what `connect --proxy --proxy-type http` sends and reads --

// The request: "CONNECT host:port HTTP/1.1", a Host field with the same authority and, with
// credentials, "Proxy-Authorization: Basic base64(user:password)". An IPv6 literal goes in
// brackets. The host is an IP literal or a name of letters, digits, '-', '.', '_' and '~' (at
// most 255 bytes), the port 1-65535; the user has no ':', neither has control bytes, each is
// at most 255 bytes. Anything else is a problem (which never shows the credentials).
Parsed<Wire> encode_http_connect(const ProxyTarget& target, const std::optional<ProxyCredentials>& credentials);

// A proxy's answer that opened the tunnel.
struct HttpResponse {
  int status = 0;           // 200-299
  std::string status_line;  // as sent, without its line end, control bytes escaped
};

// Decodes a framed response head: a 2xx status opens the tunnel; any other is "HTTP proxy: "
// and the status line (e.g. "HTTP proxy: HTTP/1.1 407 Proxy Authentication Required"); a
// status line that is not "HTTP/1.x NNN[ reason]" is "HTTP proxy: malformed status line '...'".
// The header fields are not looked at.
Parsed<HttpResponse> decode_http_response(std::string_view head);

// -- server side: what `listen --proxy-type http` reads and sends --

// One header field: its name as sent and its value without surrounding blanks.
struct HttpField {
  std::string name;
  std::string value;
};

// A request head.
struct HttpRequestHead {
  std::string method;   // as sent; only "CONNECT" is served (others get 405)
  std::string target;   // the request-target, for CONNECT an authority (parse_connect_authority)
  std::string version;  // "HTTP/1.0" or "HTTP/1.1"
  std::vector<HttpField> fields;
};

// Decodes a framed request head: "METHOD SP target SP HTTP/1.x", then "name: value" lines.
// Malformed lines, obs-fold (a line starting with a blank), a blank before a colon, control
// bytes, other versions and bytes not framed by frame_http_head are a problem (answer 400).
Parsed<HttpRequestHead> decode_http_request(std::string_view head);

// The value of the one field called `name` (case ignored); nothing when there is none or
// there are several (so two Proxy-Authorization fields authorize nothing).
std::optional<std::string_view> find_field(const HttpRequestHead& head, std::string_view name);

// Parses a CONNECT request-target: "host:port" or "[IPv6]:port", the host as
// encode_http_connect takes it (returned without brackets), the port decimal 1-65535.
// Anything else is a problem (answer 400).
Parsed<ProxyTarget> parse_connect_authority(std::string_view target);

// Decodes a Proxy-Authorization value "Basic <base64 of user:password>" (scheme in any case),
// split at the first colon. Another scheme, malformed Base64, no colon or control bytes are a
// problem (answer 407).
Parsed<ProxyCredentials> decode_basic_credentials(std::string_view value);

// "HTTP/1.1 200 Connection established" and the blank line: the tunnel starts after it.
std::string encode_http_established();

// The refusals a proxy server sends; each value is the status code.
enum class HttpRefusal {
  bad_request = 400,
  forbidden = 403,                 // the destination is not allowed
  method_not_allowed = 405,        // sent with "Allow: CONNECT"
  proxy_auth_required = 407,       // sent with Proxy-Authenticate: Basic realm="sockcat"
  fields_too_large = 431,          // frame_http_head said invalid
  bad_gateway = 502,               // the destination refused or could not be resolved
  gateway_timeout = 504,           // the destination did not answer in time
};

// A refusal: its status line, its extra field, "Content-Length: 0" and "Connection: close".
std::string encode_http_refusal(HttpRefusal refusal);

}  // namespace sockcat
