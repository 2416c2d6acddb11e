#include "transform.hpp"

#include <algorithm>

#include "table_lookup.hpp"

namespace sockcat {
namespace {

// echo: the reply is the chunk itself.
void echo_chunk(std::span<char>) {}

// upper: ASCII a-z become A-Z; every other byte passes unchanged (like Python's bytes.upper()).
void upper_chunk(std::span<char> chunk) {
  for (char& c : chunk) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - ('a' - 'A'));
  }
}

// lower: ASCII A-Z become a-z; every other byte passes unchanged (like Python's bytes.lower()).
void lower_chunk(std::span<char> chunk) {
  for (char& c : chunk) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  }
}

// rot13: ASCII letters rotated by 13 places (applying it twice gives the input back).
void rot13_chunk(std::span<char> chunk) {
  for (char& c : chunk) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>('a' + (c - 'a' + 13) % 26);
    else if (c >= 'A' && c <= 'Z') c = static_cast<char>('A' + (c - 'A' + 13) % 26);
  }
}

// reverse: the whole message's bytes in reverse order (byte-wise, so UTF-8 is not kept).
void reverse_message(std::span<char> message) { std::reverse(message.begin(), message.end()); }

constexpr Transform table[] = {
    {"none", "plain netcat: client data to stdout, stdin to the client; one client", nullptr},
    {"echo", "send every byte back unchanged, to any number of clients", echo_chunk},
    {"upper", "send every byte back with ASCII a-z made A-Z, to any number of clients", upper_chunk},
    {"lower", "send every byte back with ASCII A-Z made a-z, to any number of clients", lower_chunk},
    {"rot13", "send every byte back with ASCII letters rotated by 13 (rot13 twice is the input)", rot13_chunk},
    {"reverse", "send each whole message back reversed byte by byte (needs --framing line|length, or -u)",
     reverse_message, true},
};

}  // namespace

std::span<const Transform> transforms() { return table; }

const Transform* find_transform(std::string_view name) { return find_row(transforms(), name); }

std::vector<std::string_view> transform_names() { return row_names(transforms()); }

std::string describe_transforms() {
  size_t width = 0;
  for (const Transform& t : table) width = std::max(width, t.name.size());
  std::string text;
  for (const Transform& t : table) {
    text.append(t.name);
    text.append(width + 2 - t.name.size(), ' ');
    text.append(t.help);
    text += '\n';
  }
  return text;
}

}  // namespace sockcat
