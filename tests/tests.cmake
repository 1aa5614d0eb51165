# Test registration. Every tests/test_*.c is a Check suite linked against the same libraries as
# the binary; every tests/*_test.sh and tests/py/test_*.py is run by ctest too (shell and Python
# tests get DRL_BIN, the path of the drl binary, and DRL_BUILD_DIR in their environment).
if(NOT CHECK_FOUND)
  message(FATAL_ERROR "check (libcheck) is required for tests: run scripts/deps.sh")
endif()

file(GLOB DRL_TEST_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/test_*.c)
foreach(src ${DRL_TEST_SRC})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src} ${CMAKE_SOURCE_DIR}/tests/testutil.c)
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${DRL_SERVER_LIB} ${DRL_PROTO_LIB} drl_core PkgConfig::CHECK)
  target_compile_definitions(${name} PRIVATE DRL_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES ENVIRONMENT
    "CK_DEFAULT_TIMEOUT=300;DRL_SOURCE_DIR=${CMAKE_SOURCE_DIR};DRL_BUILD_DIR=${CMAKE_BINARY_DIR}")
endforeach()

# test_fuzz_regress replays tests/fuzz/corpus/<target>/ and tests/fuzz/regress/<target>/ through
# the fuzz targets' bodies (tests/fuzz/targets.c), compiled here with the normal compiler.
target_sources(test_fuzz_regress PRIVATE ${CMAKE_SOURCE_DIR}/tests/fuzz/targets.c)
target_include_directories(test_fuzz_regress PRIVATE ${CMAKE_SOURCE_DIR}/tests/fuzz)

# A bounded libFuzzer run of every target (tests/fuzz/run.sh: its own clang ASan + UBSan build in
# DRL_FUZZ_BUILD; exit 77, a skip, without clang). Only in plain builds, since it brings its own
# sanitizers.
if(NOT DRL_SANITIZE AND NOT DRL_FUZZ)
  set(DRL_FUZZ_SECONDS 15 CACHE STRING "Seconds per fuzz target in the fuzz_smoke test")
  add_test(NAME fuzz_smoke COMMAND bash ${CMAKE_SOURCE_DIR}/tests/fuzz/run.sh ${DRL_FUZZ_SECONDS})
  set_tests_properties(fuzz_smoke PROPERTIES ENVIRONMENT
    "DRL_FUZZ_BUILD=${CMAKE_BINARY_DIR}/fuzz-build" TIMEOUT 900 SKIP_RETURN_CODE 77)
endif()

set(DRL_SCRIPT_ENV
  "DRL_BIN=$<TARGET_FILE:drl>;DRL_BUILD_DIR=${CMAKE_BINARY_DIR};DRL_SOURCE_DIR=${CMAKE_SOURCE_DIR};DRL_SANITIZE=${DRL_SANITIZE}")

file(GLOB DRL_SH_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/*_test.sh)
foreach(sh ${DRL_SH_TESTS})
  get_filename_component(name ${sh} NAME_WE)
  add_test(NAME sh_${name} COMMAND bash ${sh})
  set_tests_properties(sh_${name} PROPERTIES ENVIRONMENT "${DRL_SCRIPT_ENV}" TIMEOUT 600)
endforeach()

file(GLOB DRL_PY_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/py/test_*.py)
foreach(py ${DRL_PY_TESTS})
  get_filename_component(name ${py} NAME_WE)
  add_test(NAME py_${name} COMMAND /usr/bin/python3 ${py})
  set_tests_properties(py_${name} PROPERTIES ENVIRONMENT "${DRL_SCRIPT_ENV}" TIMEOUT 900
                       SKIP_RETURN_CODE 77)
endforeach()

# curl-based integration tests: each starts `drl serve` on a free loopback port.
file(GLOB DRL_IT_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/integration/*_test.sh)
foreach(sh ${DRL_IT_TESTS})
  get_filename_component(name ${sh} NAME_WE)
  add_test(NAME it_${name} COMMAND bash ${sh})
  set_tests_properties(it_${name} PROPERTIES ENVIRONMENT "${DRL_SCRIPT_ENV}" TIMEOUT 900)
endforeach()

# End-to-end deployment tests (tests/e2e/*.sh): replicas behind a real HAProxy, Docker when a
# daemon exists. Exit 77 means "cannot run here" (skipped, reported as such).
file(GLOB DRL_E2E_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/e2e/*.sh)
foreach(sh ${DRL_E2E_TESTS})
  get_filename_component(name ${sh} NAME_WE)
  add_test(NAME e2e_${name} COMMAND bash ${sh})
  set_tests_properties(e2e_${name} PROPERTIES ENVIRONMENT "${DRL_SCRIPT_ENV}" TIMEOUT 900 SKIP_RETURN_CODE 77)
endforeach()
