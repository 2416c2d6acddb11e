#include "transport/transport.hpp"

namespace sockcat {
namespace {

// --ssl picks TLS (over -U's socket, a proxy's tunnel or TCP); --proxy the proxy row (over TCP);
// -U the Unix row; TCP serves everything else, so it comes last.
constexpr const Transport* table[] = {&tls_transport, &proxy_transport, &unix_transport, &tcp_transport};

}  // namespace

std::span<const Transport* const> transports() {
  return table;
}

const Transport& choose_transport(const Options& options) {
  for (const Transport* row : table)
    if (row->wanted(options)) return *row;
  return *table[std::size(table) - 1];
}

}  // namespace sockcat
