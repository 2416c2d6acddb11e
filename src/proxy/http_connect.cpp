#include "proxy/http_connect.hpp"

#include <arpa/inet.h>
#include <openssl/evp.h>

#include <array>
#include <charconv>

namespace sockcat {
namespace {

constexpr std::size_t field_limit = 255;  // the longest host, user or password sent
constexpr std::size_t shown_limit = 120;  // the most bytes of a line quoted in a problem

bool is_control(char c) {
  auto byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7f;
}

bool has_control(std::string_view text) {
  for (char c : text)
    if (is_control(c)) return true;
  return false;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// A tchar of RFC 9110: what methods and field names are made of.
bool is_token_char(char c) {
  return is_alpha(c) || is_digit(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text)
    if (!is_token_char(c)) return false;
  return true;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool same_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_blanks(std::string_view text) {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
  return text;
}

// quote(text), cut to shown_limit bytes, for naming a line from the network in a problem.
std::string shown(std::string_view text) {
  if (text.size() <= shown_limit) return quote(text);
  return quote(text.substr(0, shown_limit)) + "...";
}

bool is_ipv6_literal(std::string_view host) {
  std::string text(host);
  unsigned char address[16];
  return text.find('\0') == std::string::npos && inet_pton(AF_INET6, text.c_str(), address) == 1;
}

// Why `host` cannot stand unbracketed in an authority (a name of letters, digits and "-._~",
// 1-255 bytes), or nothing.
std::optional<std::string> name_problem(std::string_view host) {
  if (host.empty()) return "empty host name";
  if (host.size() > field_limit) return "host name longer than 255 bytes";
  for (char c : host)
    if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.' && c != '_' && c != '~')
      return "host " + shown(host) + " is neither an IP address nor a host name";
  return std::nullopt;
}

// Parses a port of an authority: 1-5 decimal digits, 1-65535.
std::optional<std::uint16_t> authority_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (char c : text) {
    if (!is_digit(c)) return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// The lines of a head that frame_http_head framed exactly, without their line ends and
// without the final empty line.
std::vector<std::string_view> head_lines(std::string_view head) {
  std::vector<std::string_view> lines;
  for (;;) {
    std::size_t end = head.find('\n');
    std::string_view line = head.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) return lines;
    lines.push_back(line);
    head.remove_prefix(end + 1);
  }
}

// Whether frame_http_head takes all of `head` as one head; otherwise sets `problem`.
bool framed_exactly(std::string_view head, std::string_view what, std::string& problem) {
  Frame frame = frame_http_head(head);
  if (frame.status == Frame::Status::complete && frame.size == head.size()) return true;
  if (frame.status == Frame::Status::invalid) problem = std::string(what) + ": " + frame.problem;
  else problem = std::string(what) + ": " + std::to_string(head.size()) + " bytes are not one head";
  return false;
}

std::string base64(std::string_view bytes) {
  std::string text(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int size = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                             reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  text.resize(static_cast<std::size_t>(size));
  return text;
}

// Decodes padded Base64 (RFC 4648 section 4, no blanks); nothing if it is malformed.
std::optional<std::string> unbase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > 2 * http_head_limit) return std::nullopt;
  std::size_t padding = 0;
  while (padding < 2 && text[text.size() - 1 - padding] == '=') ++padding;
  for (std::size_t i = 0; i < text.size() - padding; ++i) {
    char c = text[i];
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '/') return std::nullopt;
  }
  std::string bytes(text.size() / 4 * 3, '\0');
  // EVP_DecodeBlock decodes each '=' as a zero byte: the padding is taken off its count.
  int size = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                             reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (size < 0 || static_cast<std::size_t>(size) != bytes.size()) return std::nullopt;
  bytes.resize(bytes.size() - padding);
  return bytes;
}

// The status line of each refusal and the field it carries besides the common ones.
struct RefusalRow {
  HttpRefusal refusal;
  std::string_view status_line;
  std::string_view field;
};

constexpr RefusalRow refusal_rows[] = {
    {HttpRefusal::bad_request, "HTTP/1.1 400 Bad Request", ""},
    {HttpRefusal::forbidden, "HTTP/1.1 403 Forbidden", ""},
    {HttpRefusal::method_not_allowed, "HTTP/1.1 405 Method Not Allowed", "Allow: CONNECT\r\n"},
    {HttpRefusal::proxy_auth_required, "HTTP/1.1 407 Proxy Authentication Required",
     "Proxy-Authenticate: Basic realm=\"sockcat\"\r\n"},
    {HttpRefusal::fields_too_large, "HTTP/1.1 431 Request Header Fields Too Large", ""},
    {HttpRefusal::bad_gateway, "HTTP/1.1 502 Bad Gateway", ""},
    {HttpRefusal::gateway_timeout, "HTTP/1.1 504 Gateway Timeout", ""},
};

}  // namespace

Frame frame_http_head(std::string_view received) {
  // Only the first http_head_limit bytes can hold a head's line ends.
  const std::string_view window = received.substr(0, http_head_limit);
  std::size_t lines = 0;       // lines ended so far
  std::size_t line_start = 0;  // where the current line begins
  for (;;) {
    std::string_view rest = received.substr(line_start);
    std::size_t blank_line = rest.starts_with('\n') ? 1 : rest.starts_with("\r\n") ? 2 : 0;
    if (blank_line != 0) {
      if (line_start + blank_line > http_head_limit) break;
      return Frame::whole(line_start + blank_line);
    }
    std::size_t line_end = window.find('\n', line_start);
    if (line_end == std::string_view::npos) break;
    if (++lines > 1 + http_field_limit)
      return Frame::bad("HTTP head with more than " + std::to_string(http_field_limit) + " header fields");
    line_start = line_end + 1;
  }
  // The shortest end: a LF at a line's start or after a CR there, else two (a line end first).
  std::string_view rest = received.substr(line_start);
  std::size_t need = rest.empty() || rest == "\r" ? 1 : 2;
  if (received.size() + need > http_head_limit)
    return Frame::bad("HTTP head longer than " + std::to_string(http_head_limit) + " bytes");
  return Frame::more(need);
}

Parsed<Wire> encode_http_connect(const ProxyTarget& target, const std::optional<ProxyCredentials>& credentials) {
  std::string authority;
  if (target.host.find(':') != std::string::npos) {
    if (!is_ipv6_literal(target.host)) return "HTTP proxy: " + shown(target.host) + " is not an IPv6 address";
    authority = "[" + target.host + "]";
  } else {
    if (auto problem = name_problem(target.host)) return "HTTP proxy: " + *problem;
    authority = target.host;
  }
  if (target.port == 0) return std::string("HTTP proxy: port 0 is not a destination");
  authority += ":" + std::to_string(target.port);
  std::string request = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
  if (credentials) {
    const auto& [user, password] = *credentials;
    if (user.find(':') != std::string::npos) return std::string("HTTP proxy: a Basic user name cannot have a ':'");
    if (has_control(user) || has_control(password))
      return std::string("HTTP proxy: user name or password has a control byte");
    if (user.size() > field_limit || password.size() > field_limit)
      return std::string("HTTP proxy: user name or password longer than 255 bytes");
    request += "Proxy-Authorization: Basic " + base64(user + ":" + password) + "\r\n";
  }
  request += "\r\n";
  return Wire{std::move(request)};
}

Parsed<HttpResponse> decode_http_response(std::string_view head) {
  std::string problem;
  if (!framed_exactly(head, "HTTP proxy", problem)) return problem;
  std::vector<std::string_view> lines = head_lines(head);
  std::string_view line = lines.empty() ? std::string_view() : lines.front();
  // "HTTP/1.x NNN" and nothing or a blank and the reason.
  bool well_formed = line.size() >= 12 && line.substr(0, 7) == "HTTP/1." && is_digit(line[7]) && line[8] == ' ' &&
                     line[9] >= '1' && line[9] <= '5' && is_digit(line[10]) && is_digit(line[11]) &&
                     (line.size() == 12 || line[12] == ' ');
  if (!well_formed) return "HTTP proxy: malformed status line " + shown(line);
  int status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (status < 200 || status > 299) {
    if (line.size() > shown_limit) return "HTTP proxy: " + printable(line.substr(0, shown_limit)) + "...";
    return "HTTP proxy: " + printable(line);
  }
  return HttpResponse{status, printable(line)};
}

Parsed<HttpRequestHead> decode_http_request(std::string_view head) {
  std::string problem;
  if (!framed_exactly(head, "HTTP request", problem)) return problem;
  std::vector<std::string_view> lines = head_lines(head);
  if (lines.empty()) return std::string("HTTP request: empty request line");
  HttpRequestHead request;
  std::string_view start = lines.front();
  std::size_t first = start.find(' ');
  std::size_t second = first == std::string_view::npos ? first : start.find(' ', first + 1);
  if (second == std::string_view::npos || start.find(' ', second + 1) != std::string_view::npos)
    return "HTTP request: malformed request line " + shown(start);
  std::string_view method = start.substr(0, first);
  std::string_view target = start.substr(first + 1, second - first - 1);
  std::string_view version = start.substr(second + 1);
  if (!is_token(method) || target.empty() || has_control(target))
    return "HTTP request: malformed request line " + shown(start);
  if (version != "HTTP/1.1" && version != "HTTP/1.0")
    return "HTTP request: version " + shown(version) + " is not HTTP/1.0 or HTTP/1.1";
  request.method = method;
  request.target = target;
  request.version = version;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (is_blank(line.front())) return std::string("HTTP request: a header line starts with a blank (obs-fold)");
    std::size_t colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    if (colon == std::string_view::npos || !is_token(name)) return "HTTP request: malformed header line " + shown(line);
    std::string_view value = trim_blanks(line.substr(colon + 1));
    for (char c : value)
      if (is_control(c) && c != '\t') return "HTTP request: control byte in header " + shown(name);
    request.fields.push_back({std::string(name), std::string(value)});
  }
  return request;
}

std::optional<std::string_view> find_field(const HttpRequestHead& head, std::string_view name) {
  std::optional<std::string_view> found;
  for (const HttpField& field : head.fields) {
    if (!same_ignoring_case(field.name, name)) continue;
    if (found) return std::nullopt;
    found = field.value;
  }
  return found;
}

Parsed<ProxyTarget> parse_connect_authority(std::string_view target) {
  const std::string problem = "CONNECT target " + shown(target) + " is not host:port";
  std::string_view host;
  std::string_view port;
  if (!target.empty() && target.front() == '[') {
    std::size_t close = target.find(']');
    if (close == std::string_view::npos || close + 1 >= target.size() || target[close + 1] != ':') return problem;
    host = target.substr(1, close - 1);
    port = target.substr(close + 2);
    if (!is_ipv6_literal(host)) return "CONNECT target " + shown(target) + ": no IPv6 address in the brackets";
  } else {
    std::size_t colon = target.rfind(':');
    if (colon == std::string_view::npos) return problem;
    host = target.substr(0, colon);
    port = target.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return "CONNECT target " + shown(target) + ": an IPv6 address must be in brackets";
    if (auto why = name_problem(host)) return "CONNECT target " + shown(target) + ": " + *why;
  }
  auto number = authority_port(port);
  if (!number) return "CONNECT target " + shown(target) + ": the port must be 1-65535";
  return ProxyTarget{std::string(host), *number};
}

Parsed<ProxyCredentials> decode_basic_credentials(std::string_view value) {
  value = trim_blanks(value);
  std::size_t blank = value.find(' ');
  if (!same_ignoring_case(value.substr(0, blank), "basic"))
    return std::string("Proxy-Authorization is not of the Basic scheme");
  if (blank == std::string_view::npos) return std::string("Proxy-Authorization: Basic without credentials");
  auto bytes = unbase64(trim_blanks(value.substr(blank + 1)));
  if (!bytes) return std::string("Proxy-Authorization: malformed Base64");
  std::size_t colon = bytes->find(':');
  if (colon == std::string::npos) return std::string("Proxy-Authorization: no ':' between user and password");
  ProxyCredentials credentials{bytes->substr(0, colon), bytes->substr(colon + 1)};
  if (has_control(credentials.user) || has_control(credentials.password))
    return std::string("Proxy-Authorization: control byte in user or password");
  return credentials;
}

std::string encode_http_established() { return "HTTP/1.1 200 Connection established\r\n\r\n"; }

std::string encode_http_refusal(HttpRefusal refusal) {
  for (const RefusalRow& row : refusal_rows) {
    if (row.refusal != refusal) continue;
    std::string response(row.status_line);
    response += "\r\n";
    response += row.field;
    response += "Content-Length: 0\r\nConnection: close\r\n\r\n";
    return response;
  }
  return encode_http_refusal(HttpRefusal::bad_request);  // not reached: every value has a row
}

}  // namespace sockcat
