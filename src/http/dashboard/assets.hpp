#pragma once

#include <string_view>

namespace nebula::http::dashboard {

// One file of the web dashboard, compiled into the binary
// (cmake/EmbedFiles.cmake). Every view points into static storage, so an
// Asset lives as long as the program and may be shared by any thread.
struct Asset {
  std::string_view content_type;  // for the Content-Type header
  std::string_view body;          // the exact bytes to send
  std::string_view etag;          // strong entity tag, quotes included: "\"3f1c…\""
};

// The asset served at `path` (the request target's path, no query), or
// nullptr when there is none. "/" is index.html; every other asset is served
// at "/" followed by its file name, e.g. "/app.js".
//
// The server should send `ETag: <etag>` and `Cache-Control: no-cache`, and
// answer 304 when If-None-Match carries the same tag: the page revalidates on
// every load and a new build is picked up at once.
[[nodiscard]] const Asset* find_asset(std::string_view path) noexcept;

// A document from the project's docs/ compiled into the binary, by file
// name ("openapi.yaml"), or nullptr.
[[nodiscard]] const Asset* find_document(std::string_view name) noexcept;

}  // namespace nebula::http::dashboard
