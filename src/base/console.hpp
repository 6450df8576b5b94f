#pragma once

#include <string_view>

namespace nebula::base {

// How every `nebula` command reports a failure it cannot go on from:
// "nebula: <message>" on stderr. Returns `exit_code`, so that a command can
// `return fail("…");`.
int fail(std::string_view message, int exit_code = 1);

}  // namespace nebula::base
