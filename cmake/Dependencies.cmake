# Every third-party library Nebula links, in one place. All come from
# Debian 12's packages (scripts/debian-packages.txt installs them) except
# wasmtime, which cmake/Wasmtime.cmake builds from crates.io.
find_package(Threads REQUIRED)
# Libraries are linked statically where Debian ships a static archive: a
# `nebula` command then starts without resolving thousands of symbols in
# shared libraries (`nebula run` starts as fast as `wasmtime run`), and
# the binary depends on little but libc.
set(Boost_USE_STATIC_LIBS ON)
find_package(Boost 1.81 CONFIG REQUIRED COMPONENTS json url)
find_package(SQLite3 REQUIRED)
find_library(NEBULA_SQLITE3_STATIC NAMES libsqlite3.a)
add_library(nebula_sqlite3 INTERFACE)
if(NEBULA_SQLITE3_STATIC)
  target_link_libraries(nebula_sqlite3 INTERFACE ${NEBULA_SQLITE3_STATIC} ${CMAKE_DL_LIBS}
                        Threads::Threads m)
  target_include_directories(nebula_sqlite3 SYSTEM INTERFACE ${SQLite3_INCLUDE_DIRS})
else()
  target_link_libraries(nebula_sqlite3 INTERFACE SQLite::SQLite3)
endif()
# libpq: the PostgreSQL store (--store postgresql://…). Linked shared: its
# static archive would drag in OpenSSL, GSSAPI and LDAP by hand.
find_package(PostgreSQL REQUIRED)
add_library(nebula_libpq INTERFACE)
target_link_libraries(nebula_libpq INTERFACE PostgreSQL::PostgreSQL)
# libsodium: SHA-256 digests of modules.
find_package(PkgConfig REQUIRED)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
find_library(NEBULA_SODIUM_STATIC NAMES libsodium.a)
add_library(nebula_sodium INTERFACE)
if(NEBULA_SODIUM_STATIC)
  target_link_libraries(nebula_sodium INTERFACE ${NEBULA_SODIUM_STATIC} Threads::Threads)
  target_include_directories(nebula_sodium SYSTEM INTERFACE ${SODIUM_INCLUDE_DIRS})
else()
  target_link_libraries(nebula_sodium INTERFACE PkgConfig::SODIUM)
endif()
find_package(CLI11 CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
# spdlog and fmt header-only (Debian ships no static archive of either).
add_library(nebula_log INTERFACE)
get_target_property(_spdlog_inc spdlog::spdlog_header_only INTERFACE_INCLUDE_DIRECTORIES)
target_include_directories(nebula_log SYSTEM INTERFACE ${_spdlog_inc})
target_compile_definitions(nebula_log INTERFACE SPDLOG_FMT_EXTERNAL FMT_HEADER_ONLY)
target_link_libraries(nebula_log INTERFACE Threads::Threads)

if(NEBULA_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
  # yaml-cpp: the tests read the Kubernetes manifests (deploy/kubernetes/).
  find_package(yaml-cpp CONFIG REQUIRED)
endif()
if(NEBULA_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()

# Boost headers are a dependency's: keep our -Werror away from them.
add_library(nebula_boost INTERFACE)
target_link_libraries(nebula_boost INTERFACE Boost::headers Boost::json Boost::url)
target_compile_definitions(nebula_boost INTERFACE
  BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)
get_target_property(_boost_inc Boost::headers INTERFACE_INCLUDE_DIRECTORIES)
target_include_directories(nebula_boost SYSTEM INTERFACE ${_boost_inc})
