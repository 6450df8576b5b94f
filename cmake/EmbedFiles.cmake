# Embeds static files (the dashboard's HTML, CSS, JS, SVG) into a generated C++
# source, so the `nebula` binary serves its web UI without any files on disk.
#
# This file has two roles:
#  - included from a CMakeLists.txt, it defines nebula_embed_files(), which adds
#    a build-time rule that regenerates the source whenever an input changes;
#  - run as a script (`cmake -P EmbedFiles.cmake`), it is that rule: it reads
#    the inputs and writes the source.
#
# nebula_embed_files(
#   OUTPUT    <generated .cpp>
#   HEADER    <header declaring EmbeddedFile, as included from the .cpp>
#   NAMESPACE <C++ namespace of the generated definitions>
#   BASE_DIR  <directory the embedded names are relative to>
#   FILES     <file>...)
#
# The generated source defines, in NAMESPACE,
#   std::span<const EmbeddedFile> embedded_files() noexcept;
# where HEADER must declare
#   struct EmbeddedFile { std::string_view name; A asset; };
#   struct A { std::string_view content_type, body, etag; };  // any name
# `name` is the path relative to BASE_DIR with '/' separators, `etag` a strong
# HTTP entity tag derived from the SHA-256 of the content (quotes included).
#
# Each file becomes a `const char[]` initialised from '\xNN' character
# literals rather than one string literal: compilers cap the length of string
# literals (MSVC at 16 KiB per piece, and the standard only promises 65 536
# characters), while array initialisers have no such limit and keep every byte
# exact, including NULs and bytes that are not valid UTF-8.

if(NOT CMAKE_SCRIPT_MODE_FILE)
  set(_NEBULA_EMBED_SCRIPT "${CMAKE_CURRENT_LIST_FILE}")

  function(nebula_embed_files)
    cmake_parse_arguments(E "" "OUTPUT;HEADER;NAMESPACE;BASE_DIR" "FILES" ${ARGN})
    foreach(required OUTPUT HEADER NAMESPACE BASE_DIR FILES)
      if(NOT E_${required})
        message(FATAL_ERROR "nebula_embed_files: ${required} is required")
      endif()
    endforeach()

    set(absolute_files "")
    foreach(file IN LISTS E_FILES)
      cmake_path(ABSOLUTE_PATH file BASE_DIRECTORY "${E_BASE_DIR}" NORMALIZE)
      list(APPEND absolute_files "${file}")
    endforeach()
    list(SORT absolute_files)

    # A list cannot cross the command line of a custom command intact
    # (its ';' would split the argument), so it travels '|'-separated.
    string(REPLACE ";" "|" files_arg "${absolute_files}")

    cmake_path(RELATIVE_PATH E_OUTPUT BASE_DIRECTORY "${CMAKE_BINARY_DIR}"
               OUTPUT_VARIABLE output_for_humans)
    add_custom_command(
      OUTPUT "${E_OUTPUT}"
      COMMAND "${CMAKE_COMMAND}"
              "-DEMBED_OUTPUT=${E_OUTPUT}"
              "-DEMBED_HEADER=${E_HEADER}"
              "-DEMBED_NAMESPACE=${E_NAMESPACE}"
              "-DEMBED_BASE_DIR=${E_BASE_DIR}"
              "-DEMBED_FILES=${files_arg}"
              -P "${_NEBULA_EMBED_SCRIPT}"
      DEPENDS ${absolute_files} "${_NEBULA_EMBED_SCRIPT}"
      COMMENT "Embedding ${output_for_humans}"
      VERBATIM)
  endfunction()

  return()
endif()

# ---- script mode: write EMBED_OUTPUT -------------------------------------

function(_nebula_content_type file out_var)
  cmake_path(GET file EXTENSION LAST_ONLY ext)
  string(TOLOWER "${ext}" ext)
  # An if-chain rather than a lookup list: "; charset=utf-8" would split a
  # CMake list.
  set(utf8 "; charset=utf-8")
  if(ext STREQUAL ".html")
    set(type "text/html${utf8}")
  elseif(ext STREQUAL ".css")
    set(type "text/css${utf8}")
  elseif(ext STREQUAL ".js" OR ext STREQUAL ".mjs")
    set(type "text/javascript${utf8}")
  elseif(ext STREQUAL ".json")
    set(type "application/json")
  elseif(ext STREQUAL ".svg")
    set(type "image/svg+xml")
  elseif(ext STREQUAL ".png")
    set(type "image/png")
  elseif(ext STREQUAL ".ico")
    set(type "image/x-icon")
  elseif(ext STREQUAL ".txt")
    set(type "text/plain${utf8}")
  elseif(ext STREQUAL ".wasm")
    set(type "application/wasm")
  elseif(ext STREQUAL ".yaml" OR ext STREQUAL ".yml")
    set(type "application/yaml")
  else()
    set(type "application/octet-stream")
  endif()
  set(${out_var} "${type}" PARENT_SCOPE)
endfunction()

string(REPLACE "|" ";" files "${EMBED_FILES}")

set(data "")
set(table "")
set(index 0)
foreach(file IN LISTS files)
  cmake_path(RELATIVE_PATH file BASE_DIRECTORY "${EMBED_BASE_DIR}" OUTPUT_VARIABLE name)
  _nebula_content_type("${file}" content_type)
  file(SHA256 "${file}" digest)
  string(SUBSTRING "${digest}" 0 20 etag)
  file(SIZE "${file}" size)

  # Hex pairs -> '\xNN' literals, 16 per line. A trailing NUL keeps the array
  # non-empty for empty files; the view's length excludes it.
  file(READ "${file}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
  string(REGEX REPLACE "(('\\\\x..',){16})" "\\1\n    " bytes "${bytes}")

  string(APPEND data
    "// ${name} (${size} bytes)\n"
    "const char kFile${index}[] = {\n    ${bytes}'\\0'};\n\n")
  string(APPEND table
    "    {\"${name}\", {\"${content_type}\", {kFile${index}, ${size}}, R\"(\"${etag}\")\"}},\n")
  math(EXPR index "${index} + 1")
endforeach()

set(source "// Generated by cmake/EmbedFiles.cmake at build time; do not edit.
// Sources: ${EMBED_BASE_DIR}
#include \"${EMBED_HEADER}\"

#include <span>

namespace ${EMBED_NAMESPACE} {
namespace {

${data}const EmbeddedFile kFiles[] = {
${table}};

} // namespace

std::span<const EmbeddedFile> embedded_files() noexcept { return kFiles; }

} // namespace ${EMBED_NAMESPACE}
")

# Rewrite only on change, so that an unchanged output keeps its timestamp
# and nothing downstream recompiles.
set(previous "")
if(EXISTS "${EMBED_OUTPUT}")
  file(READ "${EMBED_OUTPUT}" previous)
endif()
if(NOT previous STREQUAL source)
  file(WRITE "${EMBED_OUTPUT}" "${source}")
endif()
