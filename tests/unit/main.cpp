// doctest's main() for the unit-test binary; every tests/unit/*/ file registers its cases.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
