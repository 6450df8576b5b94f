#include "base/console.hpp"

#include <cstdio>

namespace nebula::base {

int fail(std::string_view message, int exit_code) {
  std::fprintf(stderr, "nebula: %.*s\n", static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
  return exit_code;
}

}  // namespace nebula::base
