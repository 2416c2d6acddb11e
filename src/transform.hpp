// The registry of transforms: how a listening server answers what each client sends.
// Adding a transform is one function in transform.cpp and one row in its table.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sockcat {

// Rewrites one received chunk (or, for a whole-message transform, one whole message) in place
// into the reply, keeping its size. A chunk transform must give the same result however the
// stream is cut into chunks. Either kind must accept any bytes (NUL, UTF-8, binary).
using ChunkFunction = void (*)(std::span<char> chunk);

// One row of the registry.
struct Transform {
  std::string_view name;  // what --transform takes
  std::string_view help;  // one line for --list-transforms
  ChunkFunction reply;    // nullptr: no reply; the server relays with stdin/stdout (netcat)
  bool whole_messages = false;  // needs message boundaries: --framing line|length, or UDP
};

// All transforms, in the order --list-transforms prints them; the first is the default.
std::span<const Transform> transforms();

// Returns the transform called `name`, or nullptr.
const Transform* find_transform(std::string_view name);

// The registry's names, for "did you mean" and the completions.
std::vector<std::string_view> transform_names();

// One line per transform, "name  help", as --list-transforms prints it.
std::string describe_transforms();

}  // namespace sockcat
