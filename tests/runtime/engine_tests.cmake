# engine_tests.cmake - unit tests of sf-local's engine helpers that decide
# like Flink's transports (reply Content-Type, okhttp retry statuses), and
# the first-failure lines' rate limit.
# Included from tests/runtime/CMakeLists.txt.
add_executable(test_engine ${CMAKE_CURRENT_LIST_DIR}/test_engine.c)
target_link_libraries(test_engine PRIVATE sfl_engine PkgConfig::CRITERION)
target_compile_options(test_engine PRIVATE ${SF_WARNINGS}
                       -Wno-missing-prototypes)
add_test(NAME runtime.engine COMMAND test_engine --jobs 1)
set_tests_properties(runtime.engine PROPERTIES FAIL_REGULAR_EXPRESSION
  "ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:")
