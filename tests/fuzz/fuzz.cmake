# tests/fuzz/fuzz.cmake — libFuzzer targets, included from CMakeLists.txt only with -DDRL_FUZZ=ON.
#
# Configure a separate build tree with clang (tests/fuzz/run.sh does this):
#   cmake -S . -B /tmp/drl-fuzz-build -DCMAKE_C_COMPILER=clang -DDRL_FUZZ=ON
#   cmake --build /tmp/drl-fuzz-build --target fuzz
# drl_core and drl_proto are compiled with coverage instrumentation and ASan + UBSan
# (-fsanitize=fuzzer-no-link,address,undefined); each tests/fuzz/fuzz_*.c links libFuzzer's main
# (-fsanitize=fuzzer,address,undefined) with the shared bodies in targets.c. Everything else that
# links the two libraries (the drl binary, the Check suites) gets the sanitizer runtimes through
# their INTERFACE link options, so `all` still links in this tree.

if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "DRL_FUZZ needs clang (libFuzzer): configure with -DCMAKE_C_COMPILER=clang")
endif()
if(DRL_SANITIZE)
  message(FATAL_ERROR "DRL_FUZZ brings its own ASan + UBSan build: leave DRL_SANITIZE OFF")
endif()

set(DRL_FUZZ_SAN address,undefined)
set(DRL_FUZZ_FLAGS -fno-sanitize-recover=undefined -fno-omit-frame-pointer)

# -Wno-error for the project's libraries only: clang reports what gcc does not, e.g. the
# `#pragma omp simd` loops in core/conv.c that it cannot vectorise once instrumented
# (-Wpass-failed=transform-warning). The warnings still show; the fuzz files keep -Werror.
foreach(lib drl_core drl_proto)
  target_compile_options(${lib} PRIVATE -fsanitize=fuzzer-no-link,${DRL_FUZZ_SAN} ${DRL_FUZZ_FLAGS}
                         -Wno-error)
  target_link_options(${lib} INTERFACE -fsanitize=${DRL_FUZZ_SAN})
endforeach()

add_library(drl_fuzz_targets STATIC ${CMAKE_SOURCE_DIR}/tests/fuzz/targets.c)
target_include_directories(drl_fuzz_targets PUBLIC ${CMAKE_SOURCE_DIR}/tests/fuzz)
target_compile_options(drl_fuzz_targets PRIVATE -fsanitize=fuzzer-no-link,${DRL_FUZZ_SAN}
                       ${DRL_FUZZ_FLAGS})
target_link_libraries(drl_fuzz_targets PUBLIC drl_proto drl_core)

file(GLOB DRL_FUZZ_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
set(DRL_FUZZ_TARGETS)
foreach(src ${DRL_FUZZ_SRC})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer,${DRL_FUZZ_SAN} ${DRL_FUZZ_FLAGS})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,${DRL_FUZZ_SAN})
  target_link_libraries(${name} PRIVATE drl_fuzz_targets)
  list(APPEND DRL_FUZZ_TARGETS ${name})
endforeach()
add_custom_target(fuzz DEPENDS ${DRL_FUZZ_TARGETS})
