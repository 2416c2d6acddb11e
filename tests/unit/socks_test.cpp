// proxy/socks.hpp: SOCKS4, SOCKS4a and SOCKS5 requests and replies, byte for byte as RFC 1928,
// RFC 1929 and the SOCKS4/4a papers lay them out, framed a byte at a time.
#include <catch2/catch.hpp>
#include "proxy_codec_checks.hpp"
#include <initializer_list>
#include <string>
#include <variant>

#include "proxy/socks.hpp"

using namespace sockcat;

namespace {

using Status = Frame::Status;

// Bytes written as numbers, for the layouts.
std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int value : values) out += static_cast<char>(value);
  return out;
}

using proxy_checks::problem;
using proxy_checks::value;
using proxy_checks::wire;

using FrameFunction = Frame (*)(std::string_view);

// Feeds `message` and then `after` (the session's bytes) to `frame` one byte at a time: until
// the message is whole, every answer asks for at least 1 byte and no more than the message
// still lacks; from then on the answer is "complete" with the message's size, whatever follows.
// A reader that reads exactly what it is asked for must land on the message's end.
void check_framing(FrameFunction frame, const std::string& message, const std::string& after = "SSH-2.0-x\r\n") {
  const std::string stream = message + after;
  for (std::size_t got = 0; got <= stream.size(); ++got) {
    INFO("after " << got << " of " << message.size() << " bytes");
    Frame found = frame(std::string_view(stream).substr(0, got));
    if (got < message.size()) {
      REQUIRE(found.status == Status::need_more);
      REQUIRE(found.size >= 1);
      REQUIRE(got + found.size <= message.size());
    } else {
      REQUIRE(found.status == Status::complete);
      REQUIRE(found.size == message.size());
    }
  }
  std::size_t got = 0;
  for (Frame found = frame({}); found.status == Status::need_more; found = frame(stream.substr(0, got)))
    got += found.size;
  REQUIRE(got == message.size());
}

// The framing of `stream` is "need more" before `bad_at` bytes and "invalid" from there on.
std::string invalid_from(FrameFunction frame, const std::string& stream, std::size_t bad_at) {
  for (std::size_t got = 0; got < bad_at; ++got) REQUIRE(frame(stream.substr(0, got)).status == Status::need_more);
  Frame found;
  for (std::size_t got = bad_at; got <= stream.size(); ++got) {
    found = frame(stream.substr(0, got));
    REQUIRE(found.status == Status::invalid);
    REQUIRE(!found.problem.empty());
    REQUIRE(found.problem.find('\n') == std::string::npos);
  }
  return found.problem;
}

const std::string socks5_ipv4_reply = bytes({5, 0, 0, 1, 10, 0, 0, 7, 0x9c, 0x40});

}  // namespace

TEST_CASE("SOCKS4 request: VN 4, CD 1, port, address, user id and NUL", "[socks]") {
  CHECK(wire(encode_socks4_connect({"192.0.2.10", 8080}, "alice")) ==
        bytes({4, 1, 0x1f, 0x90, 192, 0, 2, 10, 'a', 'l', 'i', 'c', 'e', 0}));
  CHECK(wire(encode_socks4_connect({"127.0.0.1", 22}, "")) == bytes({4, 1, 0, 22, 127, 0, 0, 1, 0}));
  CHECK(wire(encode_socks4_connect({"255.255.255.255", 65535}, std::string(255, 'u'))).size() == 8 + 255 + 1);
}

TEST_CASE("SOCKS4 request: names, IPv6, port 0 and bad user ids are refused", "[socks]") {
  CHECK(problem(encode_socks4_connect({"example.com", 80}, "")) ==
        "SOCKS4 needs an IPv4 address, not 'example.com' (socks4a and socks5 take names)");
  CHECK(problem(encode_socks4_connect({"::1", 80}, "")) == "SOCKS4 cannot carry IPv6 address '::1' (socks5 can)");
  CHECK(problem(encode_socks4_connect({"192.0.2.1", 0}, "")) == "SOCKS4: port 0 is not a destination");
  CHECK(problem(encode_socks4_connect({"192.0.2.1", 80}, std::string("a\0b", 3))) == "SOCKS4: user id has a NUL byte");
  CHECK(problem(encode_socks4_connect({"192.0.2.1", 80}, std::string(256, 'u'))) == "SOCKS4: user id longer than 255 bytes");
  // A SOCKS4a server would look for a name after the user id.
  CHECK(problem(encode_socks4_connect({"0.0.0.1", 80}, "")) == "SOCKS4: 0.0.0.1 would be read as SOCKS4a's mark for a name");
  CHECK(problem(encode_socks4a_connect({"0.0.0.255", 80}, "")) == "SOCKS4a: 0.0.0.255 would be read as SOCKS4a's mark for a name");
  CHECK(wire(encode_socks4_connect({"0.0.0.0", 80}, "")) == bytes({4, 1, 0, 80, 0, 0, 0, 0, 0}));
  // inet_pton reads up to a NUL: a host with one is not an address.
  problem(encode_socks4_connect({std::string("1.2.3.4\0evil", 12), 80}, ""));
}

TEST_CASE("SOCKS4a request: address 0.0.0.1, then the name after the user id", "[socks]") {
  CHECK(wire(encode_socks4a_connect({"example.com", 443}, "bob")) ==
        bytes({4, 1, 1, 0xbb, 0, 0, 0, 1, 'b', 'o', 'b', 0}) + "example.com" + std::string(1, '\0'));
  CHECK(wire(encode_socks4a_connect({"h", 1}, "")) == bytes({4, 1, 0, 1, 0, 0, 0, 1, 0, 'h', 0}));
  // An IPv4 literal needs no resolving: a plain SOCKS4 request.
  CHECK(wire(encode_socks4a_connect({"10.1.2.3", 80}, "")) == bytes({4, 1, 0, 80, 10, 1, 2, 3, 0}));
  CHECK(wire(encode_socks4a_connect({std::string(255, 'n'), 80}, "")).size() == 8 + 1 + 255 + 1);
}

TEST_CASE("SOCKS4a request: IPv6, bad names and bad user ids are refused", "[socks]") {
  CHECK(problem(encode_socks4a_connect({"2001:db8::1", 80}, "")) ==
        "SOCKS4a cannot carry IPv6 address '2001:db8::1' (socks5 can)");
  CHECK(problem(encode_socks4a_connect({"", 80}, "")) == "SOCKS4a: empty host name");
  CHECK(problem(encode_socks4a_connect({std::string(256, 'n'), 80}, "")) == "SOCKS4a: host name longer than 255 bytes");
  CHECK(problem(encode_socks4a_connect({std::string("a\0b", 3), 80}, "")) == "SOCKS4a: host name 'a\\x00b' has a control byte");
  CHECK(problem(encode_socks4a_connect({"a\r\nb", 80}, "")) == "SOCKS4a: host name 'a\\x0d\\x0ab' has a control byte");
  CHECK(problem(encode_socks4a_connect({"example.com", 80}, std::string(1, '\0'))) == "SOCKS4a: user id has a NUL byte");
  CHECK(problem(encode_socks4a_connect({"example.com", 0}, "")) == "SOCKS4a: port 0 is not a destination");
}

TEST_CASE("SOCKS4 reply: 8 bytes, framed a byte at a time, the session's bytes left alone", "[socks]") {
  const std::string granted = bytes({0, 90, 0x1f, 0x90, 192, 0, 2, 1});
  check_framing(frame_socks4_reply, granted);
  CHECK(frame_socks4_reply({}).size == 8);
  CHECK(value(decode_socks4_reply(granted)) == ProxyTarget{"192.0.2.1", 8080});
  // Some servers answer with VN 4 instead of 0.
  CHECK(value(decode_socks4_reply(bytes({4, 90, 0, 0, 0, 0, 0, 0}))) == ProxyTarget{"0.0.0.0", 0});
}

TEST_CASE("SOCKS4 reply: every refusal as text", "[socks]") {
  auto refused = [](int code) { return problem(decode_socks4_reply(bytes({0, code, 0, 0, 0, 0, 0, 0}))); };
  CHECK(refused(91) == "SOCKS4 reply: request rejected or failed");
  CHECK(refused(92) == "SOCKS4 reply: request rejected because the proxy cannot reach the client's identd");
  CHECK(refused(93) == "SOCKS4 reply: request rejected because identd and the client report different user ids");
  CHECK(refused(0) == "SOCKS4 reply: unknown reply code 0");
  CHECK(refused(94) == "SOCKS4 reply: unknown reply code 94");
  CHECK(refused(255) == "SOCKS4 reply: unknown reply code 255");
  CHECK(socks4_reply_text(90) == "request granted");
  CHECK(problem(decode_socks4_reply(bytes({5, 90, 0, 0, 0, 0, 0, 0}))) == "SOCKS4 reply: version 5, not 0");
  CHECK(problem(decode_socks4_reply(bytes({0, 90, 0, 0}))) == "SOCKS4 reply: 4 bytes are not one message");
  CHECK(problem(decode_socks4_reply(bytes({0, 90, 0, 0, 0, 0, 0, 0, 0}))) == "SOCKS4 reply: 9 bytes are not one message");
}

TEST_CASE("SOCKS5 greeting: no auth, and username/password with credentials", "[socks]") {
  CHECK(encode_socks5_greeting(false) == bytes({5, 1, 0}));
  CHECK(encode_socks5_greeting(true) == bytes({5, 2, 0, 2}));
}

TEST_CASE("SOCKS5 method selection: framed as 2 bytes, only a method offered is taken", "[socks]") {
  check_framing(frame_socks5_choice, bytes({5, 0}));
  CHECK(value(decode_socks5_choice(bytes({5, 0}), false)) == socks5_no_auth);
  CHECK(value(decode_socks5_choice(bytes({5, 0}), true)) == socks5_no_auth);
  CHECK(value(decode_socks5_choice(bytes({5, 2}), true)) == socks5_password_auth);
  CHECK(problem(decode_socks5_choice(bytes({5, 2}), false)) ==
        "SOCKS5 proxy: chose authentication method 0x02, which was not offered");
  CHECK(problem(decode_socks5_choice(bytes({5, 1}), true)) ==
        "SOCKS5 proxy: chose authentication method 0x01, which was not offered");
  CHECK(problem(decode_socks5_choice(bytes({5, 0xff}), true)) == "SOCKS5 proxy: no acceptable authentication method");
  CHECK(problem(decode_socks5_choice(bytes({5, 0xff}), false)) ==
        "SOCKS5 proxy: no acceptable authentication method (it may want a user and password)");
  CHECK(invalid_from(frame_socks5_choice, bytes({4, 0}), 1) == "SOCKS5 method selection: version 4, not 5");
}

TEST_CASE("SOCKS5 username/password request (RFC 1929): VER 1, ULEN, UNAME, PLEN, PASSWD", "[socks]") {
  CHECK(wire(encode_socks5_password({"joe", "pw"})) == bytes({1, 3, 'j', 'o', 'e', 2, 'p', 'w'}));
  CHECK(wire(encode_socks5_password({"joe", ""})) == bytes({1, 3, 'j', 'o', 'e', 0}));
  CHECK(wire(encode_socks5_password({std::string(255, 'u'), std::string(255, 'p')})).size() == 3 + 255 + 255);
  CHECK(problem(encode_socks5_password({"", "pw"})) == "SOCKS5: empty user name (RFC 1929 needs 1-255 bytes)");
  CHECK(problem(encode_socks5_password({std::string(256, 'u'), "pw"})) == "SOCKS5: user name longer than 255 bytes");
  CHECK(problem(encode_socks5_password({"joe", std::string(256, 'p')})) == "SOCKS5: password longer than 255 bytes");
}

TEST_CASE("SOCKS5 username/password reply: status 0 is success", "[socks]") {
  check_framing(frame_socks5_password_reply, bytes({1, 0}));
  CHECK(std::holds_alternative<Authenticated>(decode_socks5_password_reply(bytes({1, 0}))));
  CHECK(problem(decode_socks5_password_reply(bytes({1, 1}))) == "SOCKS5 proxy: username/password refused");
  CHECK(problem(decode_socks5_password_reply(bytes({1, 0xff}))) == "SOCKS5 proxy: username/password refused");
  // Some servers answer with the SOCKS version.
  CHECK(std::holds_alternative<Authenticated>(decode_socks5_password_reply(bytes({5, 0}))));
  CHECK(invalid_from(frame_socks5_password_reply, bytes({2, 0}), 1) == "SOCKS5 username/password reply: version 2, not 1");
}

TEST_CASE("SOCKS5 CONNECT request: ATYP 1, 4 or 3 by the host's form", "[socks]") {
  CHECK(wire(encode_socks5_connect({"192.0.2.1", 80})) == bytes({5, 1, 0, 1, 192, 0, 2, 1, 0, 80}));
  CHECK(wire(encode_socks5_connect({"2001:db8::1", 443})) ==
        bytes({5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0xbb}));
  CHECK(wire(encode_socks5_connect({"example.com", 22})) ==
        bytes({5, 1, 0, 3, 11}) + "example.com" + bytes({0, 22}));
  CHECK(wire(encode_socks5_connect({std::string(255, 'n'), 65535})).size() == 4 + 1 + 255 + 2);
  CHECK(problem(encode_socks5_connect({std::string(256, 'n'), 80})) == "SOCKS5: host name longer than 255 bytes");
  CHECK(problem(encode_socks5_connect({"", 80})) == "SOCKS5: empty host name");
  CHECK(problem(encode_socks5_connect({"a\nb", 80})) == "SOCKS5: host name 'a\\x0ab' has a control byte");
  CHECK(problem(encode_socks5_connect({"example.com", 0})) == "SOCKS5: port 0 is not a destination");
}

TEST_CASE("SOCKS5 CONNECT reply: its length is known after 5 bytes, for every address type", "[socks]") {
  const std::string ipv6 = bytes({5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80});
  const std::string name = bytes({5, 0, 0, 3, 4}) + "host" + bytes({1, 0});
  check_framing(frame_socks5_reply, socks5_ipv4_reply);
  check_framing(frame_socks5_reply, ipv6);
  check_framing(frame_socks5_reply, name);
  check_framing(frame_socks5_reply, bytes({5, 0, 0, 3, 0, 0, 0}));  // an empty name, as some send
  CHECK(value(decode_socks5_reply(socks5_ipv4_reply)) == ProxyTarget{"10.0.0.7", 40000});
  CHECK(value(decode_socks5_reply(ipv6)) == ProxyTarget{"::1", 80});
  CHECK(value(decode_socks5_reply(name)) == ProxyTarget{"host", 256});
  // What a reader that takes only what it is asked for reads.
  CHECK(frame_socks5_reply({}).size == 5);
  CHECK(frame_socks5_reply(socks5_ipv4_reply.substr(0, 5)).size == 5);
  CHECK(frame_socks5_reply(ipv6.substr(0, 5)).size == 17);
  CHECK(frame_socks5_reply(name.substr(0, 5)).size == 6);
}

TEST_CASE("SOCKS5 CONNECT reply: every REP code as text", "[socks]") {
  const char* texts[] = {"succeeded", "general SOCKS server failure", "connection not allowed by ruleset",
                         "network unreachable", "host unreachable", "connection refused", "TTL expired",
                         "command not supported", "address type not supported"};
  for (int rep = 0; rep <= 8; ++rep) CHECK(socks5_reply_text(static_cast<std::uint8_t>(rep)) == texts[rep]);
  CHECK(socks5_reply_text(9) == "unknown reply code 9");
  CHECK(socks5_reply_text(255) == "unknown reply code 255");
  for (int rep = 1; rep <= 255; ++rep) {
    std::string reply = socks5_ipv4_reply;
    reply[1] = static_cast<char>(rep);
    CHECK(problem(decode_socks5_reply(reply)) == "SOCKS5 reply: " + socks5_reply_text(static_cast<std::uint8_t>(rep)));
  }
  CHECK(problem(decode_socks5_reply(bytes({5, 5, 0, 1, 0, 0, 0, 0, 0, 0}))) == "SOCKS5 reply: connection refused");
  CHECK(problem(decode_socks5_reply(bytes({5, 2, 0, 1, 0, 0, 0, 0, 0, 0}))) == "SOCKS5 reply: connection not allowed by ruleset");
  CHECK(problem(decode_socks5_reply(bytes({5, 4, 0, 1, 0, 0, 0, 0, 0, 0}))) == "SOCKS5 reply: host unreachable");
}

TEST_CASE("SOCKS5 CONNECT reply: a wrong version or address type is invalid at once", "[socks]") {
  CHECK(invalid_from(frame_socks5_reply, bytes({4, 0, 0, 1, 0, 0, 0, 0, 0, 0}), 1) == "SOCKS5 reply: version 4, not 5");
  CHECK(invalid_from(frame_socks5_reply, bytes({5, 0, 0, 2, 0, 0, 0, 0, 0, 0}), 4) == "SOCKS5 reply: unknown address type 2");
  CHECK(invalid_from(frame_socks5_reply, bytes({5, 0, 0, 0}), 4) == "SOCKS5 reply: unknown address type 0");
  // Decoding checks the framing itself.
  CHECK(problem(decode_socks5_reply(socks5_ipv4_reply.substr(0, 9))) == "SOCKS5 reply: 9 bytes are not one message");
  CHECK(problem(decode_socks5_reply(socks5_ipv4_reply + "x")) == "SOCKS5 reply: 11 bytes are not one message");
  CHECK(problem(decode_socks5_reply(bytes({4, 0, 0, 1, 0, 0, 0, 0, 0, 0}))) == "SOCKS5 reply: version 4, not 5");
}

TEST_CASE("SOCKS5 client handshake: the session's bytes that came with each reply are not consumed", "[socks]") {
  // A proxy that answers everything at once, and the SSH server behind it speaking first.
  const std::string from_proxy = bytes({5, 2}) + bytes({1, 0}) + socks5_ipv4_reply + "SSH-2.0-OpenSSH_9.2\r\n";
  std::string_view rest = from_proxy;
  Frame choice = frame_socks5_choice(rest);
  REQUIRE(choice.status == Status::complete);
  CHECK(value(decode_socks5_choice(rest.substr(0, choice.size), true)) == socks5_password_auth);
  rest.remove_prefix(choice.size);
  Frame status = frame_socks5_password_reply(rest);
  REQUIRE(status.status == Status::complete);
  CHECK(std::holds_alternative<Authenticated>(decode_socks5_password_reply(rest.substr(0, status.size))));
  rest.remove_prefix(status.size);
  Frame reply = frame_socks5_reply(rest);
  REQUIRE(reply.status == Status::complete);
  CHECK(value(decode_socks5_reply(rest.substr(0, reply.size))).port == 40000);
  rest.remove_prefix(reply.size);
  CHECK(rest == "SSH-2.0-OpenSSH_9.2\r\n");
}

TEST_CASE("SOCKS5 server: the greeting's methods, framed a byte at a time", "[socks]") {
  check_framing(frame_socks5_greeting, bytes({5, 2, 0, 2}), bytes({1, 5, 'u'}));
  check_framing(frame_socks5_greeting, encode_socks5_greeting(false));
  Socks5Greeting greeting = value(decode_socks5_greeting(bytes({5, 3, 0, 1, 2})));
  CHECK(greeting.methods == std::vector<std::uint8_t>{0, 1, 2});
  CHECK(greeting.offers(socks5_password_auth));
  CHECK(!greeting.offers(0x80));
  // No methods at all: framed, and nothing is acceptable.
  check_framing(frame_socks5_greeting, bytes({5, 0}));
  CHECK(value(decode_socks5_greeting(bytes({5, 0}))).methods.empty());
  Socks5Greeting all = value(decode_socks5_greeting(bytes({5, 255}) + std::string(255, '\x02')));
  CHECK(all.methods.size() == 255);
  CHECK(frame_socks5_greeting(bytes({5, 255})).size == 255);
}

TEST_CASE("SOCKS5 server: a greeting of another protocol is invalid at its first byte", "[socks]") {
  CHECK(invalid_from(frame_socks5_greeting, bytes({4, 1, 0, 80, 127, 0, 0, 1, 0}), 1) == "SOCKS5 greeting: version 4, not 5");
  CHECK(invalid_from(frame_socks5_greeting, "CONNECT example.com:443 HTTP/1.1\r\n", 1) ==
        "SOCKS5 greeting: version 67, not 5");
  CHECK(problem(decode_socks5_greeting(bytes({5, 2, 0}))) == "SOCKS5 greeting: 3 bytes are not one message");
}

TEST_CASE("SOCKS5 server: the method selection and the RFC 1929 status reply", "[socks]") {
  CHECK(encode_socks5_choice(socks5_no_auth) == bytes({5, 0}));
  CHECK(encode_socks5_choice(socks5_password_auth) == bytes({5, 2}));
  CHECK(encode_socks5_choice(socks5_no_acceptable) == bytes({5, 0xff}));
  CHECK(encode_socks5_password_reply(true) == bytes({1, 0}));
  CHECK(encode_socks5_password_reply(false) == bytes({1, 1}));
}

TEST_CASE("SOCKS5 server: the RFC 1929 request, framed a byte at a time", "[socks]") {
  const std::string request = bytes({1, 5}) + "alice" + bytes({6}) + "secret";
  check_framing(frame_socks5_password, request, bytes({5, 1, 0, 1}));
  CHECK(value(decode_socks5_password(request)) == ProxyCredentials{"alice", "secret"});
  // curl sends empty fields; decoding passes them on for the comparison to refuse.
  check_framing(frame_socks5_password, bytes({1, 0, 0}));
  CHECK(value(decode_socks5_password(bytes({1, 0, 0}))) == ProxyCredentials{"", ""});
  CHECK(value(decode_socks5_password(bytes({1, 1, 'u', 0}))) == ProxyCredentials{"u", ""});
  CHECK(frame_socks5_password({}).size == 3);
  CHECK(frame_socks5_password(bytes({1, 5})).size == 6);
  CHECK(frame_socks5_password(request.substr(0, 8)).size == 6);
  const std::string longest = wire(encode_socks5_password({std::string(255, 'u'), std::string(255, 'p')}));
  check_framing(frame_socks5_password, longest);
  CHECK(value(decode_socks5_password(longest)) == ProxyCredentials{std::string(255, 'u'), std::string(255, 'p')});
  CHECK(invalid_from(frame_socks5_password, bytes({5, 1, 'u', 0}), 1) == "SOCKS5 username/password request: version 5, not 1");
  CHECK(problem(decode_socks5_password(request + "x")) == "SOCKS5 username/password request: 15 bytes are not one message");
}

TEST_CASE("SOCKS5 server: a CONNECT request, framed a byte at a time, to each address type", "[socks]") {
  for (ProxyTarget target : {ProxyTarget{"192.0.2.1", 80}, ProxyTarget{"2001:db8::1", 443},
                             ProxyTarget{"example.com", 22}, ProxyTarget{std::string(255, 'n'), 1}}) {
    INFO(target.host);
    const std::string request = wire(encode_socks5_connect(target));
    check_framing(frame_socks5_request, request, "\x16\x03\x01");  // a TLS ClientHello follows at once
    Socks5Request decoded = decode_socks5_request(request);
    CHECK(!decoded.refusal);
    CHECK(decoded.problem.empty());
    CHECK(decoded.target == target);
  }
  // IPv6 comes back in its shortest form.
  CHECK(decode_socks5_request(wire(encode_socks5_connect({"0:0:0:0:0:0:0:1", 8080}))).target == ProxyTarget{"::1", 8080});
  // Port 0 and a nonzero RSV are passed on.
  CHECK(decode_socks5_request(bytes({5, 1, 7, 1, 1, 2, 3, 4, 0, 0})).target == ProxyTarget{"1.2.3.4", 0});
}

TEST_CASE("SOCKS5 server: other commands and address types are refused with their codes", "[socks]") {
  Socks5Request bind = decode_socks5_request(bytes({5, 2, 0, 1, 0, 0, 0, 0, 0, 0}));
  CHECK(bind.refusal == Socks5Rep::command_not_supported);
  CHECK(bind.problem == "SOCKS5 request: command BIND is not supported");
  Socks5Request udp = decode_socks5_request(bytes({5, 3, 0, 1, 0, 0, 0, 0, 0, 0}));
  CHECK(udp.refusal == Socks5Rep::command_not_supported);
  CHECK(udp.problem == "SOCKS5 request: command UDP ASSOCIATE is not supported");
  CHECK(decode_socks5_request(bytes({5, 9, 0, 1, 0, 0, 0, 0, 0, 0})).problem == "SOCKS5 request: command 9 is not supported");
  // An unknown ATYP has no known length: the request is framed as its first 4 bytes.
  const std::string odd = bytes({5, 1, 0, 2});
  check_framing(frame_socks5_request, odd, "whatever follows");
  Socks5Request type = decode_socks5_request(odd);
  CHECK(type.refusal == Socks5Rep::address_type_not_supported);
  CHECK(type.problem == "SOCKS5 request: address type 2 is not supported");
  CHECK(frame_socks5_request({}).size == 4);
}

TEST_CASE("SOCKS5 server: malformed requests are refused as general failures", "[socks]") {
  Socks5Request empty = decode_socks5_request(bytes({5, 1, 0, 3, 0, 0, 80}));
  CHECK(empty.refusal == Socks5Rep::general_failure);
  CHECK(empty.problem == "SOCKS5 request: empty host name");
  Socks5Request nul = decode_socks5_request(bytes({5, 1, 0, 3, 3, 'a', 0, 'b', 0, 80}));
  CHECK(nul.refusal == Socks5Rep::general_failure);
  CHECK(nul.problem == "SOCKS5 request: host name 'a\\x00b' has a control byte");
  Socks5Request cut = decode_socks5_request(bytes({5, 1, 0, 1, 1, 2}));
  CHECK(cut.refusal == Socks5Rep::general_failure);
  CHECK(cut.problem == "SOCKS5 request: 6 bytes are not one message");
  CHECK(decode_socks5_request(bytes({4, 1, 0, 1, 1, 2, 3, 4, 0, 80})).problem == "SOCKS5 request: version 4, not 5");
  CHECK(decode_socks5_request({}).refusal == Socks5Rep::general_failure);
  CHECK(invalid_from(frame_socks5_request, bytes({4, 1, 0, 1}), 1) == "SOCKS5 request: version 4, not 5");
}

TEST_CASE("SOCKS5 server: the CONNECT reply with an IPv4 or IPv6 bound address", "[socks]") {
  CHECK(wire(encode_socks5_reply(Socks5Rep::succeeded, {"10.0.0.7", 40000})) == socks5_ipv4_reply);
  CHECK(wire(encode_socks5_reply(Socks5Rep::succeeded, {"::1", 80})) ==
        bytes({5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80}));
  CHECK(wire(encode_socks5_reply(Socks5Rep::connection_refused)) == bytes({5, 5, 0, 1, 0, 0, 0, 0, 0, 0}));
  CHECK(wire(encode_socks5_reply(Socks5Rep::address_type_not_supported)) == bytes({5, 8, 0, 1, 0, 0, 0, 0, 0, 0}));
  CHECK(problem(encode_socks5_reply(Socks5Rep::succeeded, {"example.com", 80})) ==
        "SOCKS5: bound address 'example.com' is not an IP address");
  // What the server sends, the client reads back.
  for (int rep = 0; rep <= 8; ++rep) {
    std::string reply = wire(encode_socks5_reply(static_cast<Socks5Rep>(rep), {"2001:db8::2", 1080}));
    check_framing(frame_socks5_reply, reply);
    auto decoded = decode_socks5_reply(reply);
    if (rep == 0) CHECK(value(decoded) == ProxyTarget{"2001:db8::2", 1080});
    else CHECK(problem(decoded) == "SOCKS5 reply: " + socks5_reply_text(static_cast<std::uint8_t>(rep)));
  }
}
