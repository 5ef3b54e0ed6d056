# sf-local's runtime core (src/engine.c): mailboxes, batching, state,
# delayed messages, egress, retries; libcurl's multi interface for the
# function calls. Linked by the sf-local binary and the tests.
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
add_library(sfl_engine STATIC src/engine.c src/util.c)
target_include_directories(sfl_engine PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/src
  PRIVATE $<TARGET_PROPERTY:sf_proto,INTERFACE_INCLUDE_DIRECTORIES>)
target_link_libraries(sfl_engine PUBLIC sfl_config sfl_store statefun
  PkgConfig::CURL PkgConfig::JANSSON PkgConfig::PROTOBUFC Threads::Threads)
target_compile_options(sfl_engine PRIVATE ${SF_WARNINGS})
