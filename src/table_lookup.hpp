// Looking rows up by name in the project's tables (transforms, framings, subcommands): each row
// type has a `name` member.
#pragma once

#include <algorithm>
#include <span>
#include <string_view>
#include <vector>

namespace sockcat {

// The row of `table` called `name`, or nullptr.
template <typename Row>
const Row* find_row(std::span<const Row> table, std::string_view name) {
  auto found = std::find_if(table.begin(), table.end(), [&](const Row& row) { return row.name == name; });
  return found == table.end() ? nullptr : &*found;
}

// The names of `table`'s rows, in table order.
template <typename Row>
std::vector<std::string_view> row_names(std::span<const Row> table) {
  std::vector<std::string_view> names;
  for (const Row& row : table) names.push_back(row.name);
  return names;
}

}  // namespace sockcat
