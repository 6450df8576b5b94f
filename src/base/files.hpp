#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace nebula::base {

// The whole of a file, byte for byte; nullopt when it cannot be opened or
// read (missing, a directory, no permission, an I/O error). Works on /proc
// and /sys files, whose size is reported as 0 but which read fine.
[[nodiscard]] std::optional<std::string> read_file(const std::filesystem::path& path);

// Creates or truncates `path` and writes `bytes` to it; the error names the
// file and says why (no such directory, no permission, disk full).
[[nodiscard]] Status write_file(const std::filesystem::path& path, std::string_view bytes);

}  // namespace nebula::base
