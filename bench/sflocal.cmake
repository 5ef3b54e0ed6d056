# bench/sflocal.sh's load generator: libcurl multi, one thread, keep-alive
# connections to sf-local's ingress and egress (see bench/sflocal_load.c).
pkg_check_modules(SFLBENCH_CURL REQUIRED IMPORTED_TARGET libcurl)
add_executable(sflocal_load sflocal_load.c)
target_link_libraries(sflocal_load PRIVATE PkgConfig::SFLBENCH_CURL)
target_compile_options(sflocal_load PRIVATE ${SF_WARNINGS})
