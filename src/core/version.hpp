#pragma once

#include <string_view>

namespace nebula {

// Nebula's own version, reported by `nebula --version` and GET /v1/info.
inline constexpr std::string_view kVersion = "0.1.0";

}  // namespace nebula
