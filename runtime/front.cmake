# front.cmake - sf-local's HTTP ingress/egress (src/http_front.c and
# src/front_*.c, see src/front_impl.h) and its command line (src/main.c).
# Included at the end of runtime/CMakeLists.txt.
#
#   sfl_front  OBJECT library: the HTTP servers and their pure helpers (the
#              unit tests in tests/runtime link it against a fake engine)
#   sf-local   the executable, once the engine library (sfl_engine) exists

add_library(sfl_front OBJECT
  ${CMAKE_CURRENT_LIST_DIR}/src/http_front.c
  ${CMAKE_CURRENT_LIST_DIR}/src/front_parse.c
  ${CMAKE_CURRENT_LIST_DIR}/src/front_exchange.c
  ${CMAKE_CURRENT_LIST_DIR}/src/front_ingress.c
  ${CMAKE_CURRENT_LIST_DIR}/src/front_entity.c
  ${CMAKE_CURRENT_LIST_DIR}/src/front_egress.c
  ${CMAKE_CURRENT_LIST_DIR}/src/front_conn.c)
target_include_directories(sfl_front PUBLIC ${CMAKE_CURRENT_LIST_DIR}/src)
# The entity Call/Reply envelopes use the generated protobuf-c codec of
# proto/entities.proto (sf_proto_static: libstatefun keeps its copy hidden).
target_link_libraries(sfl_front PUBLIC statefun sfir sfl_util sf_proto_static
                      sfbase PkgConfig::MHD PkgConfig::JANSSON Threads::Threads)
target_compile_options(sfl_front PRIVATE ${SF_WARNINGS})

if(TARGET sfl_engine)
  add_executable(sf-local ${CMAKE_CURRENT_LIST_DIR}/src/main.c
                          ${CMAKE_CURRENT_LIST_DIR}/src/trace_tree.c)
  target_link_libraries(sf-local PRIVATE sfl_front sfl_engine statefun
                        PkgConfig::MHD
                        PkgConfig::JANSSON Threads::Threads)
  target_compile_options(sf-local PRIVATE ${SF_WARNINGS})
  install(TARGETS sf-local RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
else()
  message(STATUS "sf-local: no sfl_engine target yet; building sfl_front only")
endif()
