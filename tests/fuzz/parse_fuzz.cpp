// libFuzzer target: ports, durations, HOST:PORT and "did you mean". The first byte picks the parser.
// Invariants: no crash; a parsed duration is never negative; an accepted all-digit port equals
// its decimal value; a suggestion is always one of the candidate names; a port list is non-empty,
// without port 0 or duplicates; an accepted HOST:PORT has a host and a port, and reads back the same.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cli.hpp"
#include "parse.hpp"
#include "transform.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 6) {
    case 0:
    case 1: {
      auto port = sockcat::parse_port(text, data[0] % 5 == 1);
      if (auto* value = std::get_if<std::uint16_t>(&port)) {
        bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
        if (digits && std::stoull(text.substr(0, 20)) != *value && text.size() < 20) __builtin_trap();
      } else if (std::get<std::string>(port).empty()) {
        __builtin_trap();
      }
      break;
    }
    case 2: {
      auto duration = sockcat::parse_duration(text);
      if (auto* value = std::get_if<std::chrono::milliseconds>(&duration)) {
        if (value->count() < 0) __builtin_trap();
      } else if (std::get<std::string>(duration).empty()) {
        __builtin_trap();
      }
      break;
    }
    case 4: {
      auto ports = sockcat::parse_port_list(text, false);
      if (auto* list = std::get_if<std::vector<std::uint16_t>>(&ports)) {
        if (list->empty()) __builtin_trap();
        std::vector<bool> seen(65536, false);
        for (std::uint16_t port : *list) {
          if (port == 0 || seen[port]) __builtin_trap();  // no port 0, no duplicates
          seen[port] = true;
        }
      } else if (std::get<std::string>(ports).empty()) {
        __builtin_trap();
      }
      break;
    }
    case 5: {  // HOST:PORT, with a default port when the first byte is odd
      std::optional<std::uint16_t> default_port;
      if (data[0] & 0x40) default_port = 1080;
      auto parsed = sockcat::parse_host_port(text, default_port, false);
      if (auto* value = std::get_if<sockcat::HostPort>(&parsed)) {
        if (value->host.empty() || value->port == 0) __builtin_trap();
        // Written back in the usual form, it reads the same.
        bool v6 = value->host.find(':') != std::string::npos;
        std::string again = (v6 ? "[" + value->host + "]" : value->host) + ":" + std::to_string(value->port);
        auto reparsed = sockcat::parse_host_port(again, std::nullopt, false);
        auto* same = std::get_if<sockcat::HostPort>(&reparsed);
        if (value->host.find_first_of("[]") == std::string::npos &&
            (!same || same->host != value->host || same->port != value->port))
          __builtin_trap();
      } else if (std::get<std::string>(parsed).empty()) {
        __builtin_trap();
      }
      break;
    }
    case 3: {
      auto names = sockcat::transform_names();
      auto commands = sockcat::subcommand_names();
      names.insert(names.end(), commands.begin(), commands.end());
      if (auto suggestion = sockcat::closest_name(text, names)) {
        bool known = false;
        for (std::string_view name : names) known = known || name == *suggestion;
        if (!known) __builtin_trap();
      }
      break;
    }
  }
  return 0;
}
