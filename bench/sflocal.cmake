# bench/sflocal.sh's load generator: one thread, epoll, keep-alive
# connections to sf-local's ingress and egress (httpconn.h; see
# bench/sflocal_load.c).
add_executable(sflocal_load sflocal_load.c)
target_link_libraries(sflocal_load PRIVATE bench_httpconn)
target_compile_options(sflocal_load PRIVATE ${SF_WARNINGS})

# A short smoke of bench/sflocal.sh on this build (every message through,
# no HTTP errors, no wrong record; the figures are not asserted). Not in
# sanitizer builds, like bench.smoke: a sanitized benchmark measures
# nothing, and the load generator exits without freeing its tables.
if(TARGET sf-local AND TARGET greeter AND NOT SF_SANITIZE)
  add_test(NAME integration.sflocal_bench_smoke
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/sflocal.sh --quick --skip-build
            --build-dir ${PROJECT_BINARY_DIR})
  set_tests_properties(integration.sflocal_bench_smoke PROPERTIES TIMEOUT 300
                       LABELS integration)
endif()

# The short soak (bench/soak.py --minutes 2): about 80% of the measured
# maximum rate through sf-local into the greeter; fails on any error and
# on RSS or fd growth over 5% after warm-up, two of its windows with the
# greeter paused for 1 s (how warm-up, the stalls and the samples
# are defined: soak.py's header, bench/README.md "The soak"). The default
# run is 10 min. About 2.3 minutes in CI. Not under the sanitizers: ASan's
# quarantine grows RSS by design.
if(TARGET sf-local AND TARGET greeter AND NOT SF_SANITIZE)
  find_package(Python3 COMPONENTS Interpreter REQUIRED)
  add_test(NAME integration.soak_short
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/soak.py
            --build-dir ${PROJECT_BINARY_DIR} --minutes 2 --warmup 40
            --names 200)
  set_tests_properties(integration.soak_short PROPERTIES TIMEOUT 300
                       LABELS integration)
endif()
