// proxy/http_connect.hpp: the CONNECT request and the response head (client side), the request
// head, its authority and Basic credentials, and the responses (server side).
#include <catch2/catch.hpp>
#include "proxy_codec_checks.hpp"
#include <string>
#include <variant>

#include "proxy/http_connect.hpp"

using namespace sockcat;

namespace {

using Status = Frame::Status;

using proxy_checks::problem;
using proxy_checks::value;
using proxy_checks::wire;

// Feeds `head` and then `after` (the tunnel's bytes) to frame_http_head one byte at a time:
// until the head is whole, every answer asks for at least 1 byte and no more than the head
// still lacks; from then on it is "complete" with the head's size, whatever follows. A reader
// that reads exactly what it is asked for lands on the head's end.
void check_framing(const std::string& head, const std::string& after = "\x16\x03\x01\x02\x00\r\n\r\n") {
  const std::string stream = head + after;
  for (std::size_t got = 0; got <= stream.size(); ++got) {
    INFO("after " << got << " of " << head.size() << " bytes");
    Frame found = frame_http_head(std::string_view(stream).substr(0, got));
    if (got < head.size()) {
      REQUIRE(found.status == Status::need_more);
      REQUIRE(found.size >= 1);
      REQUIRE(got + found.size <= head.size());
    } else {
      REQUIRE(found.status == Status::complete);
      REQUIRE(found.size == head.size());
    }
  }
  std::size_t got = 0;
  for (Frame found = frame_http_head({}); found.status == Status::need_more; found = frame_http_head(stream.substr(0, got)))
    got += found.size;
  REQUIRE(got == head.size());
}

HttpRequestHead request(const std::string& head) { return value(decode_http_request(head)); }

// A head of exactly `size` bytes: a request line, one field padded to fit, the blank line.
std::string head_of_size(std::size_t size) {
  std::string head = "GET / HTTP/1.1\r\nX: ";
  head += std::string(size - head.size() - 4, 'x');
  return head + "\r\n\r\n";
}

}  // namespace

TEST_CASE("HTTP CONNECT request: the authority twice, credentials as Basic", "[http_connect]") {
  CHECK(wire(encode_http_connect({"example.com", 443}, std::nullopt)) ==
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
  CHECK(wire(encode_http_connect({"192.0.2.1", 22}, std::nullopt)) ==
        "CONNECT 192.0.2.1:22 HTTP/1.1\r\nHost: 192.0.2.1:22\r\n\r\n");
  CHECK(wire(encode_http_connect({"2001:db8::1", 8443}, std::nullopt)) ==
        "CONNECT [2001:db8::1]:8443 HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n");
  // RFC 7617's example.
  CHECK(wire(encode_http_connect({"h", 1}, ProxyCredentials{"Aladdin", "open sesame"})) ==
        "CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");
  CHECK(wire(encode_http_connect({"h", 1}, ProxyCredentials{"a", "bcd"})).find("Basic YTpiY2Q=\r\n") != std::string::npos);
  CHECK(wire(encode_http_connect({"h", 1}, ProxyCredentials{"", ""})).find("Basic Og==\r\n") != std::string::npos);
}

TEST_CASE("HTTP CONNECT request: hosts and credentials that could break the head are refused", "[http_connect]") {
  CHECK(problem(encode_http_connect({"evil.com:80 HTTP/1.1\r\nX:", 80}, std::nullopt)) ==
        "HTTP proxy: 'evil.com:80 HTTP/1.1\\x0d\\x0aX:' is not an IPv6 address");
  CHECK(problem(encode_http_connect({"a\r\nb", 80}, std::nullopt)) ==
        "HTTP proxy: host 'a\\x0d\\x0ab' is neither an IP address nor a host name");
  CHECK(problem(encode_http_connect({"a b", 80}, std::nullopt)) == "HTTP proxy: host 'a b' is neither an IP address nor a host name");
  CHECK(problem(encode_http_connect({"", 80}, std::nullopt)) == "HTTP proxy: empty host name");
  CHECK(problem(encode_http_connect({std::string(256, 'n'), 80}, std::nullopt)) == "HTTP proxy: host name longer than 255 bytes");
  CHECK(problem(encode_http_connect({"fe80::1%eth0", 80}, std::nullopt)) == "HTTP proxy: 'fe80::1%eth0' is not an IPv6 address");
  CHECK(problem(encode_http_connect({"h", 0}, std::nullopt)) == "HTTP proxy: port 0 is not a destination");
  CHECK(problem(encode_http_connect({"h", 80}, ProxyCredentials{"a:b", "c"})) == "HTTP proxy: a Basic user name cannot have a ':'");
  CHECK(problem(encode_http_connect({"h", 80}, ProxyCredentials{"a", "b\r\nX: y"})) ==
        "HTTP proxy: user name or password has a control byte");
  CHECK(problem(encode_http_connect({"h", 80}, ProxyCredentials{"a\n", "b"})) ==
        "HTTP proxy: user name or password has a control byte");
  CHECK(problem(encode_http_connect({"h", 80}, ProxyCredentials{"a", std::string(256, 'p')})) ==
        "HTTP proxy: user name or password longer than 255 bytes");
  // A password may hold a colon: the first one splits.
  CHECK(wire(encode_http_connect({"h", 80}, ProxyCredentials{"a", "b:c"})).find("Basic YTpiOmM=") != std::string::npos);
}

TEST_CASE("HTTP head framing: CRLF or bare LF, never asking past the blank line", "[http_connect]") {
  check_framing("HTTP/1.1 200 Connection established\r\n\r\n");
  check_framing("HTTP/1.0 200 OK\n\n");
  check_framing("HTTP/1.1 200 OK\r\nVia: 1.1 proxy\n\r\n");
  check_framing("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\n"
                "Content-Length: 0\r\n\r\n");
  check_framing(wire(encode_http_connect({"example.com", 443}, ProxyCredentials{"u", "p"})));
  check_framing("\r\n");
  check_framing("\n");
  // How much a reader that reads only what it is asked for takes at each point.
  CHECK(frame_http_head("").size == 1);
  CHECK(frame_http_head("HTTP/1.1 200 OK").size == 2);
  CHECK(frame_http_head("HTTP/1.1 200 OK\r").size == 2);
  CHECK(frame_http_head("HTTP/1.1 200 OK\r\n").size == 1);
  CHECK(frame_http_head("HTTP/1.1 200 OK\r\n\r").size == 1);
  CHECK(frame_http_head("HTTP/1.1 200 OK\n").size == 1);
  // A CR that does not start the blank line is part of a line.
  CHECK(frame_http_head("HTTP/1.1 200 OK\r\n\rX").status == Status::need_more);
  CHECK(frame_http_head("HTTP/1.1 200 OK\r\r\n").status == Status::need_more);
}

TEST_CASE("HTTP head framing: the bytes after the head are left for the tunnel", "[http_connect]") {
  const std::string head = "HTTP/1.1 200 Connection established\r\n\r\n";
  const std::string stream = head + "SSH-2.0-OpenSSH_9.2\r\n\r\n";
  Frame found = frame_http_head(stream);
  REQUIRE(found.status == Status::complete);
  CHECK(found.size == head.size());
  CHECK(value(decode_http_response(std::string_view(stream).substr(0, found.size))).status == 200);
  CHECK(stream.substr(found.size) == "SSH-2.0-OpenSSH_9.2\r\n\r\n");
}

TEST_CASE("HTTP head framing: 8 KiB and 100 header fields at most", "[http_connect]") {
  const std::string largest = head_of_size(http_head_limit);
  REQUIRE(largest.size() == 8192);
  CHECK(frame_http_head(largest).status == Status::complete);
  CHECK(frame_http_head(largest + "more").size == 8192);
  CHECK(frame_http_head(head_of_size(http_head_limit + 1)).problem == "HTTP head longer than 8192 bytes");
  // A head that cannot end within the limit is refused before the limit is reached.
  const std::string line(8190, 'x');
  CHECK(frame_http_head(line).status == Status::need_more);
  CHECK(frame_http_head(line + "x").problem == "HTTP head longer than 8192 bytes");
  CHECK(frame_http_head(line + "\n").status == Status::need_more);
  CHECK(frame_http_head(line + "\n\n").size == 8192);
  CHECK(frame_http_head(std::string(20000, 'x')).status == Status::invalid);

  std::string fields = "CONNECT h:1 HTTP/1.1\r\n";
  for (int i = 0; i < 100; ++i) fields += "X: y\r\n";
  CHECK(frame_http_head(fields + "\r\n").status == Status::complete);
  CHECK(request(fields + "\r\n").fields.size() == 100);
  CHECK(frame_http_head(fields + "X: y\r\n").problem == "HTTP head with more than 100 header fields");
  CHECK(frame_http_head(fields + "X: y\r\n\r\n").status == Status::invalid);
}

TEST_CASE("HTTP response: 2xx opens the tunnel, anything else is the status line", "[http_connect]") {
  HttpResponse ok = value(decode_http_response("HTTP/1.1 200 Connection established\r\n\r\n"));
  CHECK(ok.status == 200);
  CHECK(ok.status_line == "HTTP/1.1 200 Connection established");
  CHECK(value(decode_http_response("HTTP/1.0 200 OK\nProxy-agent: x\n\n")).status == 200);
  CHECK(value(decode_http_response("HTTP/1.1 204\r\n\r\n")).status_line == "HTTP/1.1 204");
  CHECK(value(decode_http_response("HTTP/1.1 299 Fine\r\n\r\n")).status == 299);
  CHECK(problem(decode_http_response("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n")) ==
        "HTTP proxy: HTTP/1.1 407 Proxy Authentication Required");
  CHECK(problem(decode_http_response("HTTP/1.0 403 Forbidden\n\n")) == "HTTP proxy: HTTP/1.0 403 Forbidden");
  CHECK(problem(decode_http_response("HTTP/1.1 100 Continue\r\n\r\n")) == "HTTP proxy: HTTP/1.1 100 Continue");
  CHECK(problem(decode_http_response("HTTP/1.1 300 Multiple\r\n\r\n")) == "HTTP proxy: HTTP/1.1 300 Multiple");
  CHECK(problem(decode_http_response("HTTP/1.1 502 Bad \x1b[31mGateway\r\n\r\n")) ==
        "HTTP proxy: HTTP/1.1 502 Bad \\x1b[31mGateway");
  std::string long_reason = "HTTP/1.1 503 " + std::string(500, 'r');
  CHECK(problem(decode_http_response(long_reason + "\r\n\r\n")) == "HTTP proxy: " + long_reason.substr(0, 120) + "...");
}

TEST_CASE("HTTP response: a malformed status line or unframed bytes", "[http_connect]") {
  CHECK(problem(decode_http_response("HTTP/2 200\r\n\r\n")) == "HTTP proxy: malformed status line 'HTTP/2 200'");
  CHECK(problem(decode_http_response("HTTP/1.1 20 OK\r\n\r\n")) == "HTTP proxy: malformed status line 'HTTP/1.1 20 OK'");
  CHECK(problem(decode_http_response("HTTP/1.1 2000\r\n\r\n")) == "HTTP proxy: malformed status line 'HTTP/1.1 2000'");
  CHECK(problem(decode_http_response("HTTP/1.1 600 Odd\r\n\r\n")) == "HTTP proxy: malformed status line 'HTTP/1.1 600 Odd'");
  CHECK(problem(decode_http_response("SSH-2.0-OpenSSH\r\n\r\n")) == "HTTP proxy: malformed status line 'SSH-2.0-OpenSSH'");
  CHECK(problem(decode_http_response("\r\n")) == "HTTP proxy: malformed status line ''");
  CHECK(problem(decode_http_response("HTTP/1.1 200 OK\r\n")) == "HTTP proxy: 17 bytes are not one head");
  CHECK(problem(decode_http_response("HTTP/1.1 200 OK\r\n\r\nX")) == "HTTP proxy: 20 bytes are not one head");
  CHECK(problem(decode_http_response(head_of_size(9000))) == "HTTP proxy: HTTP head longer than 8192 bytes");
}

TEST_CASE("HTTP request head: what curl and OpenBSD nc send", "[http_connect]") {
  HttpRequestHead curl = request(
      "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nUser-Agent: curl/7.88.1\r\n"
      "Proxy-Authorization: Basic YTpi\r\nProxy-Connection: Keep-Alive\r\n\r\n");
  CHECK(curl.method == "CONNECT");
  CHECK(curl.target == "example.com:443");
  CHECK(curl.version == "HTTP/1.1");
  REQUIRE(curl.fields.size() == 4);
  CHECK(curl.fields[1].name == "User-Agent");
  CHECK(curl.fields[1].value == "curl/7.88.1");
  CHECK(find_field(curl, "proxy-authorization") == "Basic YTpi");
  CHECK(find_field(curl, "HOST") == "example.com:443");
  CHECK(!find_field(curl, "Authorization"));
  HttpRequestHead nc = request("CONNECT 127.0.0.1:22 HTTP/1.0\r\n\r\n");
  CHECK(nc.version == "HTTP/1.0");
  CHECK(nc.fields.empty());
  // Bare LF, blanks around a value, an empty value, obs-text.
  HttpRequestHead loose = request("GET http://x/ HTTP/1.1\nA:  b c \t\nEmpty:\nT: caf\xc3\xa9\n\n");
  CHECK(loose.method == "GET");
  CHECK(loose.fields[0].value == "b c");
  CHECK(loose.fields[1].value.empty());
  CHECK(loose.fields[2].value == "caf\xc3\xa9");
}

TEST_CASE("HTTP request head: one field of a name, or none", "[http_connect]") {
  HttpRequestHead twice = request("CONNECT h:1 HTTP/1.1\r\nProxy-Authorization: Basic YTpi\r\n"
                                  "proxy-authorization: Basic YTpiYw==\r\n\r\n");
  CHECK(!find_field(twice, "Proxy-Authorization"));
}

TEST_CASE("HTTP request head: malformed heads are refused", "[http_connect]") {
  CHECK(problem(decode_http_request("\r\n")) == "HTTP request: empty request line");
  CHECK(problem(decode_http_request("CONNECT  h:1 HTTP/1.1\r\n\r\n")) ==
        "HTTP request: malformed request line 'CONNECT  h:1 HTTP/1.1'");
  CHECK(problem(decode_http_request("CONNECT h:1 HTTP/1.1 \r\n\r\n")) ==
        "HTTP request: malformed request line 'CONNECT h:1 HTTP/1.1 '");
  CHECK(problem(decode_http_request("CONNECT h:1\r\n\r\n")) == "HTTP request: malformed request line 'CONNECT h:1'");
  CHECK(problem(decode_http_request("CON(NECT h:1 HTTP/1.1\r\n\r\n")) ==
        "HTTP request: malformed request line 'CON(NECT h:1 HTTP/1.1'");
  CHECK(problem(decode_http_request("CONNECT h:1\x01 HTTP/1.1\r\n\r\n")) ==
        "HTTP request: malformed request line 'CONNECT h:1\\x01 HTTP/1.1'");
  CHECK(problem(decode_http_request("CONNECT h:1 HTTP/2.0\r\n\r\n")) ==
        "HTTP request: version 'HTTP/2.0' is not HTTP/1.0 or HTTP/1.1");
  CHECK(problem(decode_http_request("CONNECT h:1 http/1.1\r\n\r\n")) ==
        "HTTP request: version 'http/1.1' is not HTTP/1.0 or HTTP/1.1");
  CHECK(problem(decode_http_request("CONNECT h:1 HTTP/1.1\r\nA: b\r\n  c\r\n\r\n")) ==
        "HTTP request: a header line starts with a blank (obs-fold)");
  CHECK(problem(decode_http_request("CONNECT h:1 HTTP/1.1\r\n\tA: b\r\n\r\n")) ==
        "HTTP request: a header line starts with a blank (obs-fold)");
  CHECK(problem(decode_http_request("CONNECT h:1 HTTP/1.1\r\nHost : h\r\n\r\n")) ==
        "HTTP request: malformed header line 'Host : h'");
  CHECK(problem(decode_http_request("CONNECT h:1 HTTP/1.1\r\nno colon\r\n\r\n")) ==
        "HTTP request: malformed header line 'no colon'");
  CHECK(problem(decode_http_request("CONNECT h:1 HTTP/1.1\r\n: v\r\n\r\n")) == "HTTP request: malformed header line ': v'");
  CHECK(problem(decode_http_request("CONNECT h:1 HTTP/1.1\r\nA: b\rc\r\n\r\n")) == "HTTP request: control byte in header 'A'");
  CHECK(problem(decode_http_request(std::string("CONNECT h:1 HTTP/1.1\r\nA: b\0c\r\n\r\n", 32))) ==
        "HTTP request: control byte in header 'A'");
  CHECK(problem(decode_http_request("CONNECT h:1 HTTP/1.1\r\n\rX: y\r\n\r\n")) ==
        "HTTP request: malformed header line '\\x0dX: y'");
  // Decoding checks the framing itself.
  CHECK(problem(decode_http_request("CONNECT h:1 HTTP/1.1\r\n")) == "HTTP request: 22 bytes are not one head");
  CHECK(problem(decode_http_request("CONNECT h:1 HTTP/1.1\r\n\r\nX")) == "HTTP request: 25 bytes are not one head");
}

TEST_CASE("CONNECT authority: host:port or [IPv6]:port", "[http_connect]") {
  CHECK(value(parse_connect_authority("example.com:443")) == ProxyTarget{"example.com", 443});
  CHECK(value(parse_connect_authority("192.0.2.1:1")) == ProxyTarget{"192.0.2.1", 1});
  CHECK(value(parse_connect_authority("[2001:db8::1]:65535")) == ProxyTarget{"2001:db8::1", 65535});
  CHECK(value(parse_connect_authority("[::ffff:1.2.3.4]:80")) == ProxyTarget{"::ffff:1.2.3.4", 80});
  CHECK(value(parse_connect_authority("my_host-1.example~:080")) == ProxyTarget{"my_host-1.example~", 80});
  CHECK(value(parse_connect_authority(std::string(255, 'n') + ":9")).host.size() == 255);
}

TEST_CASE("CONNECT authority: no port, bad ports and bad hosts", "[http_connect]") {
  CHECK(problem(parse_connect_authority("example.com")) == "CONNECT target 'example.com' is not host:port");
  CHECK(problem(parse_connect_authority("")) == "CONNECT target '' is not host:port");
  CHECK(problem(parse_connect_authority("/index.html")) == "CONNECT target '/index.html' is not host:port");
  CHECK(problem(parse_connect_authority("h:")) == "CONNECT target 'h:': the port must be 1-65535");
  CHECK(problem(parse_connect_authority("h:0")) == "CONNECT target 'h:0': the port must be 1-65535");
  CHECK(problem(parse_connect_authority("h:65536")) == "CONNECT target 'h:65536': the port must be 1-65535");
  CHECK(problem(parse_connect_authority("h:000080")) == "CONNECT target 'h:000080': the port must be 1-65535");
  CHECK(problem(parse_connect_authority("h:+80")) == "CONNECT target 'h:+80': the port must be 1-65535");
  CHECK(problem(parse_connect_authority("h:https")) == "CONNECT target 'h:https': the port must be 1-65535");
  CHECK(problem(parse_connect_authority(":80")) == "CONNECT target ':80': empty host name");
  CHECK(problem(parse_connect_authority("::1:80")) == "CONNECT target '::1:80': an IPv6 address must be in brackets");
  CHECK(problem(parse_connect_authority("[::1]")) == "CONNECT target '[::1]' is not host:port");
  CHECK(problem(parse_connect_authority("[::1]80")) == "CONNECT target '[::1]80' is not host:port");
  CHECK(problem(parse_connect_authority("[::1]:")) == "CONNECT target '[::1]:': the port must be 1-65535");
  CHECK(problem(parse_connect_authority("[example.com]:80")) ==
        "CONNECT target '[example.com]:80': no IPv6 address in the brackets");
  CHECK(problem(parse_connect_authority("[1.2.3.4]:80")) == "CONNECT target '[1.2.3.4]:80': no IPv6 address in the brackets");
  CHECK(problem(parse_connect_authority("user@h:80")) ==
        "CONNECT target 'user@h:80': host 'user@h' is neither an IP address nor a host name");
  CHECK(problem(parse_connect_authority(std::string(256, 'n') + ":9")).find("host name longer than 255 bytes") !=
        std::string::npos);
}

TEST_CASE("Basic credentials: Base64 of user:password, split at the first colon", "[http_connect]") {
  CHECK(value(decode_basic_credentials("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")) == ProxyCredentials{"Aladdin", "open sesame"});
  CHECK(value(decode_basic_credentials("basic YTpi")) == ProxyCredentials{"a", "b"});
  CHECK(value(decode_basic_credentials("BASIC   YTpiYw==  ")) == ProxyCredentials{"a", "bc"});
  CHECK(value(decode_basic_credentials("Basic YTpiY2Q=")) == ProxyCredentials{"a", "bcd"});
  CHECK(value(decode_basic_credentials("Basic dXNlcjo=")) == ProxyCredentials{"user", ""});
  CHECK(value(decode_basic_credentials("Basic YTpiOmM=")) == ProxyCredentials{"a", "b:c"});
  CHECK(value(decode_basic_credentials("Basic Og==")) == ProxyCredentials{"", ""});
}

TEST_CASE("Basic credentials: other schemes and malformed Base64", "[http_connect]") {
  CHECK(problem(decode_basic_credentials("Bearer YTpi")) == "Proxy-Authorization is not of the Basic scheme");
  CHECK(problem(decode_basic_credentials("Basic")) == "Proxy-Authorization: Basic without credentials");
  CHECK(problem(decode_basic_credentials("Basic  ")) == "Proxy-Authorization: Basic without credentials");
  CHECK(problem(decode_basic_credentials("BasicYTpi")) == "Proxy-Authorization is not of the Basic scheme");
  CHECK(problem(decode_basic_credentials("")) == "Proxy-Authorization is not of the Basic scheme");
  for (const char* bad : {"Basic YTp", "Basic YTpiY", "Basic YT=i", "Basic Y===", "Basic ====",
                          "Basic YTpi====", "Basic YT pi", "Basic YTp!", "Basic YTpi\r\n", "Basic YTpiYw"}) {
    INFO(bad);
    CHECK(problem(decode_basic_credentials(bad)) == "Proxy-Authorization: malformed Base64");
  }
  CHECK(problem(decode_basic_credentials("Basic YQ==")) == "Proxy-Authorization: no ':' between user and password");
  CHECK(problem(decode_basic_credentials("Basic dTpwDQ==")) == "Proxy-Authorization: control byte in user or password");
}

TEST_CASE("HTTP responses: 200, and each refusal with its fields", "[http_connect]") {
  CHECK(encode_http_established() == "HTTP/1.1 200 Connection established\r\n\r\n");
  CHECK(encode_http_refusal(HttpRefusal::bad_request) ==
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  CHECK(encode_http_refusal(HttpRefusal::forbidden) ==
        "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  CHECK(encode_http_refusal(HttpRefusal::method_not_allowed) ==
        "HTTP/1.1 405 Method Not Allowed\r\nAllow: CONNECT\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  CHECK(encode_http_refusal(HttpRefusal::proxy_auth_required) ==
        "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"sockcat\"\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n");
  CHECK(encode_http_refusal(HttpRefusal::fields_too_large) ==
        "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  CHECK(encode_http_refusal(HttpRefusal::bad_gateway) ==
        "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  CHECK(encode_http_refusal(HttpRefusal::gateway_timeout) ==
        "HTTP/1.1 504 Gateway Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

TEST_CASE("HTTP responses: what the server sends, the client reads back", "[http_connect]") {
  check_framing(encode_http_established());
  CHECK(value(decode_http_response(encode_http_established())).status == 200);
  for (HttpRefusal refusal : {HttpRefusal::bad_request, HttpRefusal::forbidden, HttpRefusal::method_not_allowed,
                              HttpRefusal::proxy_auth_required, HttpRefusal::fields_too_large,
                              HttpRefusal::bad_gateway, HttpRefusal::gateway_timeout}) {
    const std::string response = encode_http_refusal(refusal);
    check_framing(response);
    const std::string status_line = response.substr(0, response.find('\r'));
    CHECK(status_line.substr(9, 3) == std::to_string(static_cast<int>(refusal)));
    CHECK(problem(decode_http_response(response)) == "HTTP proxy: " + status_line);
  }
}

TEST_CASE("HTTP CONNECT: what the client sends, the server reads back", "[http_connect]") {
  for (ProxyTarget target : {ProxyTarget{"example.com", 443}, ProxyTarget{"::1", 22}, ProxyTarget{"10.0.0.1", 65535}}) {
    const std::string sent = wire(encode_http_connect(target, ProxyCredentials{"user", "pa:ss word"}));
    check_framing(sent);
    HttpRequestHead head = request(sent);
    CHECK(head.method == "CONNECT");
    CHECK(value(parse_connect_authority(head.target)) == target);
    CHECK(find_field(head, "Host") == head.target);
    auto credentials = find_field(head, "Proxy-Authorization");
    REQUIRE(credentials);
    CHECK(value(decode_basic_credentials(*credentials)) == ProxyCredentials{"user", "pa:ss word"});
  }
}
