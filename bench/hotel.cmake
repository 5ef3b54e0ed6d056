# bench/hotel.sh's open-loop load driver for the hotel application
# (bench/hotel_load.c): libcurl multi, one thread, the request parameters
# from examples/hotel's data rules (library hotel_data).
if(TARGET hotel_data)
  add_executable(hotel_load hotel_load.c)
  target_link_libraries(hotel_load PRIVATE hotel_data PkgConfig::SFLBENCH_CURL m)
  target_compile_options(hotel_load PRIVATE ${SF_WARNINGS})
endif()
