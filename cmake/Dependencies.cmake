# Every third-party library Nebula links, in one place. All come from
# Debian 12's packages (scripts/debian-packages.txt installs them) except
# wasmtime, which cmake/Wasmtime.cmake builds from crates.io.
find_package(Threads REQUIRED)
find_package(Boost 1.81 CONFIG REQUIRED COMPONENTS json url)
find_package(SQLite3 REQUIRED)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
find_package(CLI11 CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)

if(NEBULA_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
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
