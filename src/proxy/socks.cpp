#include "proxy/socks.hpp"

#include <arpa/inet.h>

#include <array>
#include <cstdio>

namespace sockcat {
namespace {

using Ipv4 = std::array<unsigned char, 4>;
using Ipv6 = std::array<unsigned char, 16>;

constexpr std::size_t field_limit = 255;  // a length byte's largest value

unsigned byte_at(std::string_view bytes, std::size_t at) { return static_cast<unsigned char>(bytes[at]); }

std::uint16_t port_at(std::string_view bytes, std::size_t at) {
  return static_cast<std::uint16_t>(byte_at(bytes, at) << 8 | byte_at(bytes, at + 1));
}

void put_port(std::string& out, std::uint16_t port) {
  out += static_cast<char>(port >> 8);
  out += static_cast<char>(port & 0xff);
}

void put_bytes(std::string& out, const unsigned char* bytes, std::size_t size) {
  out.append(reinterpret_cast<const char*>(bytes), size);
}

// "0x1f": a byte as it is named in problems.
std::string hex_byte(unsigned value) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02x", value & 0xff);
  return text;
}

// The address of an IPv4 literal ("192.0.2.1"), or nothing.
std::optional<Ipv4> ipv4_literal(const std::string& host) {
  Ipv4 address;
  if (host.find('\0') != std::string::npos || inet_pton(AF_INET, host.c_str(), address.data()) != 1) return std::nullopt;
  return address;
}

// The address of an IPv6 literal without brackets ("2001:db8::1"), or nothing.
std::optional<Ipv6> ipv6_literal(const std::string& host) {
  Ipv6 address;
  if (host.find('\0') != std::string::npos || inet_pton(AF_INET6, host.c_str(), address.data()) != 1) return std::nullopt;
  return address;
}

std::string ipv4_text(std::string_view bytes) {
  char text[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, bytes.data(), text, sizeof text);
  return text;
}

std::string ipv6_text(std::string_view bytes) {
  char text[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, bytes.data(), text, sizeof text);
  return text;
}

// Why `name` cannot be sent as a host name (1-255 bytes, no control bytes), or nothing.
std::optional<std::string> name_problem(std::string_view name) {
  if (name.empty()) return "empty host name";
  if (name.size() > field_limit) return "host name longer than 255 bytes";
  for (char c : name) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) return "host name " + quote(name) + " has a control byte";
  }
  return std::nullopt;
}

// The outcome of a framing step for a message of `total` bytes.
Frame sized(std::string_view received, std::size_t total) {
  return received.size() >= total ? Frame::whole(total) : Frame::more(total - received.size());
}

// Whether the framing step took all of `message` as one message.
bool framed_exactly(const Frame& frame, std::string_view message) {
  return frame.status == Frame::Status::complete && frame.size == message.size();
}

// "SOCKS5 reply: 3 bytes are not one message": the decode steps' answer to unframed bytes.
std::string unframed(std::string_view what, const Frame& frame, std::string_view message) {
  if (frame.status == Frame::Status::invalid) return frame.problem;
  return std::string(what) + ": " + std::to_string(message.size()) + " bytes are not one message";
}

// Frames a message with a version byte that must be `version` and a fixed length.
Frame frame_fixed(std::string_view received, std::string_view what, unsigned version, std::size_t total) {
  if (!received.empty() && byte_at(received, 0) != version)
    return Frame::bad(std::string(what) + ": version " + std::to_string(byte_at(received, 0)) + ", not " +
                      std::to_string(version));
  return sized(received, total);
}

// Frames VER X RSV ATYP ADDR PORT, the layout of SOCKS5 requests and replies. An unknown ATYP
// is invalid, or (`unknown_type_ends`) ends the message after 4 bytes.
Frame frame_addressed(std::string_view received, std::string_view what, bool unknown_type_ends) {
  const std::size_t got = received.size();
  if (got >= 1 && byte_at(received, 0) != 5)
    return Frame::bad(std::string(what) + ": version " + std::to_string(byte_at(received, 0)) + ", not 5");
  if (got < 4) return Frame::more((unknown_type_ends ? 4 : 5) - got);
  switch (byte_at(received, 3)) {
    case 1: return sized(received, 4 + 4 + 2);
    case 4: return sized(received, 4 + 16 + 2);
    case 3: return got < 5 ? Frame::more(1) : sized(received, 4 + 1 + byte_at(received, 4) + 2);
    default:
      if (unknown_type_ends) return Frame::whole(4);
      return Frame::bad(std::string(what) + ": unknown address type " + std::to_string(byte_at(received, 3)));
  }
}

// The address and port of a message that frame_addressed framed exactly, with a known ATYP.
ProxyTarget address_of(std::string_view message) {
  switch (byte_at(message, 3)) {
    case 1: return {ipv4_text(message.substr(4, 4)), port_at(message, 8)};
    case 4: return {ipv6_text(message.substr(4, 16)), port_at(message, 20)};
    default: {
      std::size_t length = byte_at(message, 4);
      return {std::string(message.substr(5, length)), port_at(message, 5 + length)};
    }
  }
}

// A SOCKS4 CONNECT request to `address`, with a SOCKS4a `name` after the user id if not empty.
Parsed<Wire> socks4_request(std::string_view what, const Ipv4& address, std::uint16_t port,
                                   std::string_view user_id, std::string_view name) {
  if (port == 0) return std::string(what) + ": port 0 is not a destination";
  if (name.empty() && address[0] == 0 && address[1] == 0 && address[2] == 0 && address[3] != 0)
    return std::string(what) + ": " + ipv4_text({reinterpret_cast<const char*>(address.data()), 4}) +
           " would be read as SOCKS4a's mark for a name";
  if (user_id.size() > field_limit) return std::string(what) + ": user id longer than 255 bytes";
  if (user_id.find('\0') != std::string_view::npos) return std::string(what) + ": user id has a NUL byte";
  std::string request = {4, 1};
  put_port(request, port);
  put_bytes(request, address.data(), address.size());
  request += user_id;
  request += '\0';
  if (!name.empty()) {
    request += name;
    request += '\0';
  }
  return Wire{std::move(request)};
}

}  // namespace

Parsed<Wire> encode_socks4_connect(const ProxyTarget& target, std::string_view user_id) {
  auto address = ipv4_literal(target.host);
  if (!address) {
    if (ipv6_literal(target.host)) return "SOCKS4 cannot carry IPv6 address " + quote(target.host) + " (socks5 can)";
    return "SOCKS4 needs an IPv4 address, not " + quote(target.host) + " (socks4a and socks5 take names)";
  }
  return socks4_request("SOCKS4", *address, target.port, user_id, {});
}

Parsed<Wire> encode_socks4a_connect(const ProxyTarget& target, std::string_view user_id) {
  if (auto address = ipv4_literal(target.host)) return socks4_request("SOCKS4a", *address, target.port, user_id, {});
  if (ipv6_literal(target.host)) return "SOCKS4a cannot carry IPv6 address " + quote(target.host) + " (socks5 can)";
  if (auto problem = name_problem(target.host)) return "SOCKS4a: " + *problem;
  return socks4_request("SOCKS4a", Ipv4{0, 0, 0, 1}, target.port, user_id, target.host);
}

Frame frame_socks4_reply(std::string_view received) { return sized(received, 8); }

Parsed<ProxyTarget> decode_socks4_reply(std::string_view message) {
  Frame frame = frame_socks4_reply(message);
  if (!framed_exactly(frame, message)) return unframed("SOCKS4 reply", frame, message);
  unsigned version = byte_at(message, 0);
  if (version != 0 && version != 4) return "SOCKS4 reply: version " + std::to_string(version) + ", not 0";
  unsigned code = byte_at(message, 1);
  if (code != 90) return "SOCKS4 reply: " + socks4_reply_text(static_cast<std::uint8_t>(code));
  return ProxyTarget{ipv4_text(message.substr(4, 4)), port_at(message, 2)};
}

std::string socks4_reply_text(std::uint8_t code) {
  static constexpr std::string_view texts[] = {
      "request granted",
      "request rejected or failed",
      "request rejected because the proxy cannot reach the client's identd",
      "request rejected because identd and the client report different user ids",
  };
  if (code >= 90 && code < 90 + std::size(texts)) return std::string(texts[code - 90]);
  return "unknown reply code " + std::to_string(code);
}

std::string socks5_reply_text(std::uint8_t rep) {
  static constexpr std::string_view texts[] = {
      "succeeded",
      "general SOCKS server failure",
      "connection not allowed by ruleset",
      "network unreachable",
      "host unreachable",
      "connection refused",
      "TTL expired",
      "command not supported",
      "address type not supported",
  };
  if (rep < std::size(texts)) return std::string(texts[rep]);
  return "unknown reply code " + std::to_string(rep);
}

std::string encode_socks5_greeting(bool with_password) {
  if (with_password) return {5, 2, static_cast<char>(socks5_no_auth), static_cast<char>(socks5_password_auth)};
  return {5, 1, static_cast<char>(socks5_no_auth)};
}

Frame frame_socks5_choice(std::string_view received) {
  return frame_fixed(received, "SOCKS5 method selection", 5, 2);
}

Parsed<std::uint8_t> decode_socks5_choice(std::string_view message, bool offered_password) {
  Frame frame = frame_socks5_choice(message);
  if (!framed_exactly(frame, message)) return unframed("SOCKS5 method selection", frame, message);
  auto method = static_cast<std::uint8_t>(byte_at(message, 1));
  if (method == socks5_no_auth || (method == socks5_password_auth && offered_password)) return method;
  if (method == socks5_no_acceptable) {
    if (offered_password) return std::string("SOCKS5 proxy: no acceptable authentication method");
    return std::string("SOCKS5 proxy: no acceptable authentication method (it may want a user and password)");
  }
  return "SOCKS5 proxy: chose authentication method " + hex_byte(method) + ", which was not offered";
}

Parsed<Wire> encode_socks5_password(const ProxyCredentials& credentials) {
  if (credentials.user.empty()) return std::string("SOCKS5: empty user name (RFC 1929 needs 1-255 bytes)");
  if (credentials.user.size() > field_limit) return std::string("SOCKS5: user name longer than 255 bytes");
  if (credentials.password.size() > field_limit) return std::string("SOCKS5: password longer than 255 bytes");
  std::string request = {1, static_cast<char>(credentials.user.size())};
  request += credentials.user;
  request += static_cast<char>(credentials.password.size());
  request += credentials.password;
  return Wire{std::move(request)};
}

Frame frame_socks5_password_reply(std::string_view received) {
  if (!received.empty() && byte_at(received, 0) == 5) return sized(received, 2);
  return frame_fixed(received, "SOCKS5 username/password reply", 1, 2);
}

Parsed<Authenticated> decode_socks5_password_reply(std::string_view message) {
  Frame frame = frame_socks5_password_reply(message);
  if (!framed_exactly(frame, message)) return unframed("SOCKS5 username/password reply", frame, message);
  if (byte_at(message, 1) != 0) return std::string("SOCKS5 proxy: username/password refused");
  return Authenticated{};
}

Parsed<Wire> encode_socks5_connect(const ProxyTarget& target) {
  if (target.port == 0) return std::string("SOCKS5: port 0 is not a destination");
  std::string request = {5, 1, 0};
  if (auto address = ipv4_literal(target.host)) {
    request += '\x01';
    put_bytes(request, address->data(), address->size());
  } else if (auto address6 = ipv6_literal(target.host)) {
    request += '\x04';
    put_bytes(request, address6->data(), address6->size());
  } else {
    if (auto problem = name_problem(target.host)) return "SOCKS5: " + *problem;
    request += '\x03';
    request += static_cast<char>(target.host.size());
    request += target.host;
  }
  put_port(request, target.port);
  return Wire{std::move(request)};
}

Frame frame_socks5_reply(std::string_view received) { return frame_addressed(received, "SOCKS5 reply", false); }

Parsed<ProxyTarget> decode_socks5_reply(std::string_view message) {
  Frame frame = frame_socks5_reply(message);
  if (!framed_exactly(frame, message)) return unframed("SOCKS5 reply", frame, message);
  auto rep = static_cast<std::uint8_t>(byte_at(message, 1));
  if (rep != 0) return "SOCKS5 reply: " + socks5_reply_text(rep);
  return address_of(message);
}

bool Socks5Greeting::offers(std::uint8_t method) const {
  for (std::uint8_t offered : methods)
    if (offered == method) return true;
  return false;
}

Frame frame_socks5_greeting(std::string_view received) {
  if (received.size() < 2) return frame_fixed(received, "SOCKS5 greeting", 5, 2);
  return frame_fixed(received, "SOCKS5 greeting", 5, 2 + byte_at(received, 1));
}

Parsed<Socks5Greeting> decode_socks5_greeting(std::string_view message) {
  Frame frame = frame_socks5_greeting(message);
  if (!framed_exactly(frame, message)) return unframed("SOCKS5 greeting", frame, message);
  Socks5Greeting greeting;
  for (std::size_t at = 2; at < message.size(); ++at) greeting.methods.push_back(static_cast<std::uint8_t>(byte_at(message, at)));
  return greeting;
}

std::string encode_socks5_choice(std::uint8_t method) { return {5, static_cast<char>(method)}; }

Frame frame_socks5_password(std::string_view received) {
  constexpr std::string_view what = "SOCKS5 username/password request";
  if (received.size() < 2) return frame_fixed(received, what, 1, 3);
  std::size_t user = byte_at(received, 1);
  if (received.size() < 3 + user) return frame_fixed(received, what, 1, 3 + user);
  return frame_fixed(received, what, 1, 3 + user + byte_at(received, 2 + user));
}

Parsed<ProxyCredentials> decode_socks5_password(std::string_view message) {
  Frame frame = frame_socks5_password(message);
  if (!framed_exactly(frame, message)) return unframed("SOCKS5 username/password request", frame, message);
  std::size_t user = byte_at(message, 1);
  return ProxyCredentials{std::string(message.substr(2, user)), std::string(message.substr(3 + user))};
}

std::string encode_socks5_password_reply(bool accepted) { return {1, accepted ? '\0' : '\1'}; }

Frame frame_socks5_request(std::string_view received) { return frame_addressed(received, "SOCKS5 request", true); }

Socks5Request decode_socks5_request(std::string_view message) {
  auto refuse = [](Socks5Rep rep, std::string problem) { return Socks5Request{{}, rep, std::move(problem)}; };
  Frame frame = frame_socks5_request(message);
  if (!framed_exactly(frame, message))
    return refuse(Socks5Rep::general_failure, unframed("SOCKS5 request", frame, message));
  unsigned command = byte_at(message, 1);
  if (command != 1) {
    std::string name = command == 2 ? "BIND" : command == 3 ? "UDP ASSOCIATE" : std::to_string(command);
    return refuse(Socks5Rep::command_not_supported, "SOCKS5 request: command " + name + " is not supported");
  }
  unsigned type = byte_at(message, 3);
  if (type != 1 && type != 3 && type != 4)
    return refuse(Socks5Rep::address_type_not_supported,
                  "SOCKS5 request: address type " + std::to_string(type) + " is not supported");
  ProxyTarget target = address_of(message);
  if (type == 3) {
    if (auto problem = name_problem(target.host)) return refuse(Socks5Rep::general_failure, "SOCKS5 request: " + *problem);
  }
  return Socks5Request{std::move(target), std::nullopt, {}};
}

Parsed<Wire> encode_socks5_reply(Socks5Rep rep, const ProxyTarget& bound) {
  std::string reply = {5, static_cast<char>(rep), 0};
  if (auto address = ipv4_literal(bound.host)) {
    reply += '\x01';
    put_bytes(reply, address->data(), address->size());
  } else if (auto address6 = ipv6_literal(bound.host)) {
    reply += '\x04';
    put_bytes(reply, address6->data(), address6->size());
  } else {
    return "SOCKS5: bound address " + quote(bound.host) + " is not an IP address";
  }
  put_port(reply, bound.port);
  return Wire{std::move(reply)};
}

}  // namespace sockcat
