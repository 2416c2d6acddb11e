// The unit tests' entry point (Catch2 v2 builds its own main here).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
