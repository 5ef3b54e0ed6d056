# front_tests.cmake - tests of sf-local's HTTP front (runtime/src/http_front.c)
# without the engine: the pure helpers byte for byte, and both servers over
# real loopback (libcurl) against a scripted fake engine defined in the test.
if(NOT TARGET PkgConfig::CURL)
  pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
endif()

add_executable(test_front ${CMAKE_CURRENT_LIST_DIR}/test_front.c)
target_link_libraries(test_front PRIVATE sfl_front statefun PkgConfig::MHD
                      PkgConfig::JANSSON PkgConfig::CURL PkgConfig::CRITERION
                      Threads::Threads)
target_compile_options(test_front PRIVATE ${SF_WARNINGS}
                       -Wno-missing-prototypes)
add_test(NAME runtime.front COMMAND test_front --jobs 1)
