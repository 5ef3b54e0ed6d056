# sfl_store: sf-local's durable store (--data DIR) on SQLite; see
# runtime/src/store.h and docs/sf-local-durability.md. Included from
# runtime/CMakeLists.txt.
#
# GLOBAL so that targets in other directories (tests/runtime) that link
# sfl_store can see the imported target it links publicly.
if(NOT TARGET PkgConfig::SQLITE3)
  pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET GLOBAL sqlite3)
endif()

add_library(sfl_store STATIC ${CMAKE_CURRENT_LIST_DIR}/src/store.c)
target_include_directories(sfl_store PUBLIC ${CMAKE_CURRENT_LIST_DIR}/src)
target_link_libraries(sfl_store PUBLIC PkgConfig::SQLITE3)
target_compile_options(sfl_store PRIVATE ${SF_WARNINGS})
