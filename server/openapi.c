/* openapi.c — proto/openapi.yaml embedded in the binary, for GET /openapi.yaml.
 *
 * The document is assembled into .rodata at build time (CMake passes its path and rebuilds this
 * file when it changes), so the server never reads it from disk and cannot serve a stale copy. */
#ifndef DRL_OPENAPI_PATH
#error "DRL_OPENAPI_PATH must name proto/openapi.yaml"
#endif

__asm__(".section .rodata\n"
        ".global drl_openapi_yaml\n"
        ".global drl_openapi_yaml_end\n"
        ".balign 16\n"
        "drl_openapi_yaml:\n"
        ".incbin \"" DRL_OPENAPI_PATH "\"\n"
        "drl_openapi_yaml_end:\n"
        ".byte 0\n"
        ".previous\n");
