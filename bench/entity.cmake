# The cost of the generated entity layer (bench/entity.sh): entity_bench.c
# drives the Counter entity of entity_bench.ir.json (generated at build
# time by sf-codegen) and a hand-written SDK function doing the same work
# through sf_handler_handle, in-process, no HTTP.
add_executable(bench_entity entity_bench.c)
statefun_add_entities(bench_entity ${CMAKE_CURRENT_SOURCE_DIR}/entity_bench.ir.json)
# The request builder uses the protobuf-c messages libstatefun exports
# (as tests/unit/support.c does).
target_include_directories(bench_entity PRIVATE
  $<TARGET_PROPERTY:sf_proto,INTERFACE_INCLUDE_DIRECTORIES>)
target_link_libraries(bench_entity PRIVATE statefun PkgConfig::PROTOBUFC)
target_compile_options(bench_entity PRIVATE ${SF_WARNINGS})
