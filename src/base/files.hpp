#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace nebula::base {

// The whole of a file, byte for byte; nullopt when it cannot be opened or
// read (missing, a directory, no permission, an I/O error). Works on /proc
// and /sys files, whose size is reported as 0 but which read fine.
[[nodiscard]] std::optional<std::string> read_file(const std::filesystem::path& path);

}  // namespace nebula::base
