# sf-local's runtime core (src/engine*.c, see src/engine_impl.h):
# mailboxes, batching, state, delayed messages, egress, retries; libcurl's
# multi interface for https:// function calls, our own HTTP/1.1 client
# (src/engine_http.c) for http:// ones. Linked by the sf-local binary and the tests.
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
# The StateFun messages are built and read with the generated protobuf-c
# code, linked as sf_proto_static (libstatefun keeps its copy hidden).
add_library(sfl_engine STATIC src/engine.c src/engine_state.c
  src/engine_delayed.c src/engine_request.c src/engine_reply.c
  src/engine_egress.c src/engine_api.c src/engine_views.c
  src/engine_failures.c src/engine_trace.c src/engine_http.c)
target_include_directories(sfl_engine PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/src)
target_link_libraries(sfl_engine PUBLIC sfl_config sfl_store sfl_util statefun
  sf_proto_static sfbase PkgConfig::CURL PkgConfig::JANSSON
  PkgConfig::PROTOBUFC Threads::Threads)
target_compile_options(sfl_engine PRIVATE ${SF_WARNINGS})
