// libFuzzer target: the proxy handshakes (src/proxy). The first byte picks a decoder, or the
// encoders; the rest is the bytes received (or the values to encode).
// Invariants: a framing step never says "complete" past its input, never asks for 0 bytes,
// and gives the same answer fed a byte at a time, read exactly as it asks, or all at once (a
// reader taking what it is asked for lands on the message's end; "complete" and "invalid"
// never change as bytes arrive; no earlier answer asked past the message's end); decoding any
// bytes, framed or not, never crashes and a problem is one non-empty line; what a decoder
// accepts, the matching encoder writes back the same way; what an encoder accepts, the
// matching framing takes whole and the decoder reads back as the same value.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "proxy/http_connect.hpp"
#include "proxy/socks.hpp"

namespace {

using namespace sockcat;
using Status = Frame::Status;
using FrameFunction = Frame (*)(std::string_view);

void check(bool condition) {
  if (!condition) __builtin_trap();
}

void check_problem(const std::string& problem) {
  check(!problem.empty() && problem.find('\n') == std::string::npos && problem.find('\r') == std::string::npos);
}

// The value of a result; problems are checked for form and give nothing.
template <typename T>
std::optional<T> accepted(const Parsed<T>& result) {
  if (auto* problem = std::get_if<std::string>(&result)) {
    check_problem(*problem);
    return std::nullopt;
  }
  return std::get<T>(result);
}

// Frames `input` whole, after checking the framing contract on it (see the top of the file).
Frame checked_frame(FrameFunction frame, std::string_view input) {
  Frame whole = frame(input);
  if (whole.status == Status::complete) check(whole.size >= 1 && whole.size <= input.size());
  if (whole.status == Status::need_more) check(whole.size >= 1);
  if (whole.status == Status::invalid) check_problem(whole.problem);

  // A reader that reads exactly what it is asked for.
  std::size_t got = 0;
  Frame step = frame(input.substr(0, 0));
  while (step.status == Status::need_more) {
    check(step.size >= 1);
    got += step.size;
    if (got > input.size()) break;
    step = frame(input.substr(0, got));
  }
  if (got <= input.size()) {
    if (step.status == Status::complete) check(step.size == got && whole.status == Status::complete && whole.size == got);
    else check(whole.status == Status::invalid);
  } else {
    check(whole.status != Status::complete);
  }

  // A byte at a time (short inputs only: HTTP framing scans from the start every time).
  if (input.size() <= 600) {
    std::size_t reach = 0;  // the furthest any "need more" answer has asked for
    std::optional<Frame> settled;
    for (std::size_t size = 0; size <= input.size(); ++size) {
      Frame now = frame(input.substr(0, size));
      if (settled) {
        check(now.status == settled->status && now.size == settled->size);
        continue;
      }
      if (now.status == Status::need_more) {
        check(now.size >= 1);
        reach = std::max(reach, size + now.size);
        continue;
      }
      if (now.status == Status::complete) check(now.size == size && reach <= now.size);
      settled = now;
    }
    if (settled) check(whole.status == settled->status && whole.size == settled->size);
  }
  return whole;
}

// The framed message at the start of `input`, or nothing.
std::optional<std::string_view> framed(FrameFunction frame, std::string_view input) {
  Frame found = checked_frame(frame, input);
  if (found.status != Status::complete) return std::nullopt;
  return input.substr(0, found.size);
}

std::string encoded(const Parsed<Wire>& result) {
  auto wire = accepted(result);
  return wire ? wire->bytes : std::string();
}

// What encode_http_connect sends for `target`, read back by a server: the same target and
// credentials. Returns whether the encoder accepted them.
bool http_connect_round_trip(const ProxyTarget& target, const std::optional<ProxyCredentials>& credentials) {
  auto wire = accepted(encode_http_connect(target, credentials));
  if (!wire) return false;
  check(checked_frame(frame_http_head, wire->bytes + "\x16\x03").size == wire->bytes.size());
  auto head = accepted(decode_http_request(wire->bytes));
  check(head && head->method == "CONNECT" && find_field(*head, "Host") == head->target);
  auto back = accepted(parse_connect_authority(head->target));
  check(back && *back == target);
  auto authorization = find_field(*head, "Proxy-Authorization");
  check(authorization.has_value() == credentials.has_value());
  if (credentials) {
    auto sent = accepted(decode_basic_credentials(*authorization));
    check(sent && *sent == *credentials);
  }
  return true;
}

// What the SOCKS5 encoders send for `target` and `credentials`, read back by a server; what
// a server replies, read back by a client.
void socks5_round_trips(const ProxyTarget& target, const ProxyCredentials& credentials, std::uint8_t rep) {
  for (bool with_password : {false, true}) {
    std::string greeting = encode_socks5_greeting(with_password);
    const std::string stream = greeting + "\x01";  // the message and what follows it
    auto message = framed(frame_socks5_greeting, stream);
    check(message && message->size() == greeting.size());
    auto decoded = accepted(decode_socks5_greeting(*message));
    check(decoded && decoded->offers(socks5_no_auth) && decoded->offers(socks5_password_auth) == with_password);
    std::string choice = encode_socks5_choice(with_password ? socks5_password_auth : socks5_no_auth);
    check(framed(frame_socks5_choice, choice).has_value());
    check(accepted(decode_socks5_choice(choice, with_password)).has_value());
  }
  if (auto wire = accepted(encode_socks5_password(credentials))) {
    const std::string stream = wire->bytes + "\x05";
    auto message = framed(frame_socks5_password, stream);
    check(message && message->size() == wire->bytes.size());
    auto back = accepted(decode_socks5_password(*message));
    check(back && *back == credentials);
  }
  for (bool accepted_password : {false, true}) {
    std::string reply = encode_socks5_password_reply(accepted_password);
    check(framed(frame_socks5_password_reply, reply).has_value());
    check(std::holds_alternative<Authenticated>(decode_socks5_password_reply(reply)) == accepted_password);
  }
  if (auto wire = accepted(encode_socks5_connect(target))) {
    const std::string stream = wire->bytes + "\x16";
    auto message = framed(frame_socks5_request, stream);
    check(message && message->size() == wire->bytes.size());
    Socks5Request request = decode_socks5_request(*message);
    check(!request.refusal && request.problem.empty());
    check(encoded(encode_socks5_connect(request.target)) == wire->bytes);
  }
  if (auto wire = accepted(encode_socks5_reply(static_cast<Socks5Rep>(rep), target))) {
    const std::string stream = wire->bytes + "SSH-";
    auto message = framed(frame_socks5_reply, stream);
    check(message && message->size() == wire->bytes.size());
    auto bound = accepted(decode_socks5_reply(*message));
    check(bound.has_value() == (rep == 0));
    if (bound) check(encoded(encode_socks5_reply(Socks5Rep::succeeded, *bound)) == wire->bytes);
  }
}

// What the SOCKS4 encoders send: the layout of the papers.
void socks4_layouts(const ProxyTarget& target, std::string_view user_id) {
  for (bool with_names : {false, true}) {
    auto result = with_names ? encode_socks4a_connect(target, user_id) : encode_socks4_connect(target, user_id);
    auto wire = accepted(result);
    if (!wire) continue;
    const std::string& bytes = wire->bytes;
    check(bytes.size() >= 9 && bytes[0] == 4 && bytes[1] == 1 && bytes.back() == '\0');
    check((static_cast<unsigned char>(bytes[2]) << 8 | static_cast<unsigned char>(bytes[3])) == target.port);
    check(bytes.substr(8, user_id.size()) == user_id && bytes[8 + user_id.size()] == '\0');
    bool named = bytes.substr(4, 3) == std::string(3, '\0') && bytes[7] != 0;
    check(named == (bytes.size() > 9 + user_id.size()));
    if (named) check(bytes.substr(9 + user_id.size()) == target.host + std::string(1, '\0'));
  }
}

// Splits `text` at its first `separator`: (before, after); after is empty without one.
std::pair<std::string, std::string> split(std::string_view text, char separator) {
  std::size_t at = text.find(separator);
  if (at == std::string_view::npos) return {std::string(text), {}};
  return {std::string(text.substr(0, at)), std::string(text.substr(at + 1))};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 12) {
    case 0:  // SOCKS4 reply
      if (auto message = framed(frame_socks4_reply, input)) {
        if (accepted(decode_socks4_reply(*message))) check((*message)[1] == 90);
      }
      accepted(decode_socks4_reply(input));
      break;
    case 1:  // SOCKS5 method selection
      if (auto message = framed(frame_socks5_choice, input)) {
        for (bool offered : {false, true})
          if (auto method = accepted(decode_socks5_choice(*message, offered)))
            check(*method == socks5_no_auth || (offered && *method == socks5_password_auth));
      }
      accepted(decode_socks5_choice(input, true));
      break;
    case 2:  // RFC 1929 reply
      if (auto message = framed(frame_socks5_password_reply, input)) {
        if (accepted(decode_socks5_password_reply(*message))) check((*message)[1] == 0);
      }
      accepted(decode_socks5_password_reply(input));
      break;
    case 3:  // SOCKS5 CONNECT reply
      if (auto message = framed(frame_socks5_reply, input)) {
        if (auto bound = accepted(decode_socks5_reply(*message))) {
          check((*message)[1] == 0);
          // An IP address with RSV 0 is written back byte for byte.
          std::string again = encoded(encode_socks5_reply(Socks5Rep::succeeded, *bound));
          if ((*message)[2] == 0 && (*message)[3] != 3) check(again == *message);
        }
      }
      accepted(decode_socks5_reply(input));
      break;
    case 4:  // SOCKS5 greeting (server)
      if (auto message = framed(frame_socks5_greeting, input)) {
        auto greeting = accepted(decode_socks5_greeting(*message));
        check(greeting && greeting->methods.size() == static_cast<unsigned char>((*message)[1]));
      }
      accepted(decode_socks5_greeting(input));
      break;
    case 5:  // RFC 1929 request (server)
      if (auto message = framed(frame_socks5_password, input)) {
        auto credentials = accepted(decode_socks5_password(*message));
        check(credentials.has_value());
        std::string again = encoded(encode_socks5_password(*credentials));
        check(again == (credentials->user.empty() ? std::string() : std::string(*message)));
      }
      accepted(decode_socks5_password(input));
      break;
    case 6:  // SOCKS5 request (server)
      if (auto message = framed(frame_socks5_request, input)) {
        Socks5Request request = decode_socks5_request(*message);
        check(request.refusal.has_value() != request.problem.empty());
        if (request.refusal) check_problem(request.problem);
        if (!request.refusal && request.target.port != 0) {
          std::string sent = encoded(encode_socks5_connect(request.target));
          Socks5Request again = decode_socks5_request(sent);
          check(!again.refusal && encoded(encode_socks5_connect(again.target)) == sent);
        }
      }
      check(decode_socks5_request(input).refusal || framed(frame_socks5_request, input) == input);
      break;
    case 7:  // HTTP response head (client)
      if (auto head = framed(frame_http_head, input)) {
        if (auto response = accepted(decode_http_response(*head)))
          check(response->status >= 200 && response->status <= 299 && !response->status_line.empty());
      }
      accepted(decode_http_response(input));
      break;
    case 8:  // HTTP request head (server), its authority and credentials
      if (auto head = framed(frame_http_head, input)) {
        if (auto request = accepted(decode_http_request(*head))) {
          auto target = accepted(parse_connect_authority(request->target));
          std::optional<ProxyCredentials> credentials;
          if (auto field = find_field(*request, "proxy-authorization")) {
            if (auto basic = accepted(decode_basic_credentials(*field))) credentials = *basic;
          }
          if (target && (!credentials || (credentials->user.size() <= 255 && credentials->password.size() <= 255)))
            check(http_connect_round_trip(*target, credentials));
        }
      }
      accepted(decode_http_request(input));
      break;
    case 9:  // a CONNECT authority alone
      if (auto target = accepted(parse_connect_authority(input))) {
        check(http_connect_round_trip(*target, std::nullopt));
      }
      break;
    case 10:  // a Proxy-Authorization value alone
      if (auto credentials = accepted(decode_basic_credentials(input))) {
        check(credentials->user.find(':') == std::string::npos);
        if (credentials->user.size() <= 255 && credentials->password.size() <= 255)
          check(http_connect_round_trip({"h", 1}, *credentials));
      }
      break;
    default: {  // the encoders: two port bytes, then host NL user NL password
      if (input.size() < 2) break;
      auto port = static_cast<std::uint16_t>(static_cast<unsigned char>(input[0]) << 8 | static_cast<unsigned char>(input[1]));
      auto [host, rest] = split(input.substr(2), '\n');
      auto [user, password] = split(rest, '\n');
      ProxyTarget target{host, port};
      ProxyCredentials credentials{user, password};
      socks4_layouts(target, user);
      socks5_round_trips(target, credentials, static_cast<std::uint8_t>(port % 10));
      http_connect_round_trip(target, std::nullopt);
      http_connect_round_trip(target, credentials);
      break;
    }
  }
  return 0;
}
