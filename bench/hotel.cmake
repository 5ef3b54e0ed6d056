# bench/hotel.sh's open-loop load driver for the hotel application
# (bench/hotel_load.c): libcurl multi, one thread (library hotel_http), the
# request parameters from examples/hotel's data rules (library hotel_data).
# tests/hotel defines the same target when it is configured first (the
# test suite uses the driver for its bounded load runs).
if(TARGET hotel_data AND NOT TARGET hotel_load)
  add_executable(hotel_load ${CMAKE_CURRENT_LIST_DIR}/hotel_load.c)
  target_link_libraries(hotel_load PRIVATE hotel_data hotel_http m)
  target_compile_options(hotel_load PRIVATE ${SF_WARNINGS})
endif()
