// diag.hpp: the wording helpers of diagnostics.
#include <catch2/catch.hpp>
#include <cstdint>

#include "diag.hpp"

using sockcat::diag::count_of;

TEST_CASE("count_of puts the noun in the plural unless the count is 1") {
  CHECK(count_of(1, "datagram") == "1 datagram");
  CHECK(count_of(0, "byte") == "0 bytes");
  CHECK(count_of(2, "client") == "2 clients");
  CHECK(count_of(11, "message") == "11 messages");
  CHECK(count_of(UINT64_MAX, "byte") == "18446744073709551615 bytes");
}
