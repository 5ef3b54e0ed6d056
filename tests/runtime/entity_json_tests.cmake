# entity_json_tests.cmake - the IR-driven JSON <-> record codec
# (ir/src/ir_json.c): byte-exact encodings, error messages, and round
# trips over the shopping-cart and hotel IRs.
add_executable(test_entity_json ${CMAKE_CURRENT_LIST_DIR}/test_entity_json.c)
target_link_libraries(test_entity_json PRIVATE sfir sfbase PkgConfig::CRITERION)
target_compile_options(test_entity_json PRIVATE ${SF_WARNINGS}
                       -Wno-missing-prototypes)
target_compile_definitions(test_entity_json PRIVATE
  SHOP_IR="${PROJECT_SOURCE_DIR}/examples/shopping-cart/shop.ir.json"
  HOTEL_IR="${PROJECT_SOURCE_DIR}/examples/hotel/hotel.ir.json")
add_test(NAME runtime.entity_json COMMAND test_entity_json --jobs 1)
set_tests_properties(runtime.entity_json PROPERTIES
  FAIL_REGULAR_EXPRESSION "ERROR: [A-Za-z]*Sanitizer|runtime error:")
