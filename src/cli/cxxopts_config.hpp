// cxxopts as every file of the command line includes it: the macros below change the library's
// code, so each translation unit must see the same ones (one definition rule).
#pragma once

// Positional arguments are kept whole: a port list such as 22,80 must not be split by cxxopts.
#define CXXOPTS_VECTOR_DELIMITER '\0'
// cxxopts without std::regex: compiling its patterns was a third of `connect -z`'s start-up.
#define CXXOPTS_NO_REGEX
#include <cxxopts.hpp>
