# test_store: Criterion tests of sf-local's durable store, including a
# kill -9 crash test (20 runs at random kill points). Included from
# tests/runtime/CMakeLists.txt.
add_executable(test_store ${CMAKE_CURRENT_LIST_DIR}/test_store.c)
target_link_libraries(test_store PRIVATE sfl_store PkgConfig::CRITERION)
target_compile_options(test_store PRIVATE ${SF_WARNINGS}
                       -Wno-missing-prototypes)
add_test(NAME runtime.store COMMAND test_store --jobs 1)
set_tests_properties(runtime.store PROPERTIES TIMEOUT 300)
# Criterion reports a leak or UB in a test's process but still passes it:
# make any sanitizer report fail the test (SF_SANITIZE builds).
set_tests_properties(runtime.store PROPERTIES FAIL_REGULAR_EXPRESSION
  "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:")
