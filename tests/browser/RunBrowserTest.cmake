# Runs dashboard.test.mjs for CTest (see CMakeLists.txt for the variables).
# Prerequisites that are missing on purpose (no chromium, examples not built)
# print "NEBULA_BROWSER_SKIP: <why>", which CTest reports as a skip.

if(NOT EXISTS "${CHROMIUM}")
  message("NEBULA_BROWSER_SKIP: no chromium at ${CHROMIUM} (apt-get install -y chromium)")
  return()
endif()
if(NOT EXISTS "${HELLO}")
  message("NEBULA_BROWSER_SKIP: ${HELLO} is missing (configure with NEBULA_BUILD_EXAMPLES=ON and build)")
  return()
endif()
if(NOT EXISTS "${NEBULA_BIN}")
  message(FATAL_ERROR "${NEBULA_BIN} is missing: build the `nebula` target first")
endif()

# npm ci into the build tree, again only when the lock file changed.
file(MAKE_DIRECTORY "${NPM_DIR}")
file(SHA256 "${SOURCE_DIR}/package-lock.json" lock_hash)
set(stamp "${NPM_DIR}/node_modules/.nebula-lock-sha256")
set(installed "")
if(EXISTS "${stamp}")
  file(READ "${stamp}" installed)
endif()
if(NOT installed STREQUAL lock_hash)
  file(COPY "${SOURCE_DIR}/package.json" "${SOURCE_DIR}/package-lock.json" DESTINATION "${NPM_DIR}")
  execute_process(
    COMMAND "${NPM}" ci --no-audit --no-fund --loglevel=error
    WORKING_DIRECTORY "${NPM_DIR}"
    RESULT_VARIABLE npm_result)
  if(NOT npm_result EQUAL 0)
    message(FATAL_ERROR "npm ci failed (${npm_result}) in ${NPM_DIR}")
  endif()
  file(WRITE "${stamp}" "${lock_hash}")
endif()

execute_process(
  COMMAND "${CMAKE_COMMAND}" -E env
    "NEBULA_BIN=${NEBULA_BIN}"
    "NEBULA_EXAMPLE_HELLO=${HELLO}"
    "NEBULA_BROWSER_ARTIFACTS=${ARTIFACTS}"
    "NEBULA_BROWSER_NODE_MODULES=${NPM_DIR}/node_modules"
    "CHROMIUM=${CHROMIUM}"
    "${NODE}" --test "${SOURCE_DIR}/dashboard.test.mjs"
  RESULT_VARIABLE test_result)
if(NOT test_result EQUAL 0)
  message(FATAL_ERROR "dashboard.test.mjs failed (${test_result}); screenshots in ${ARTIFACTS}")
endif()
