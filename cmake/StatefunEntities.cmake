# StatefunEntities.cmake - generate C for stateful entities at build time.
#
#   statefun_add_entities(<target> <ir.json>...)
#
# For each entity IR file (docs/entity-ir.md) runs
#   sf-codegen <ir.json> -o ${CMAKE_CURRENT_BINARY_DIR}/entities
# which writes entities/<base>.h and entities/<base>.c, <base> being the
# file name without ".ir.json" (or ".json") made a C identifier
# (string(MAKE_C_IDENTIFIER), as sf-codegen does). The .c files are added
# to <target>'s sources and the directory to its include path, so the
# target's code includes "<base>.h", implements the step functions with
# SF_METHOD(Entity, method) and calls <base>_register(handler). Link the
# target with statefun (statefun::statefun) as usual.
#
# sf-codegen runs from ${CMAKE_SOURCE_DIR}, so the banner of the generated
# files names the IR path relative to the source tree.
#
# The command reruns when the IR file or sf-codegen changes; sf-codegen
# leaves unchanged files alone, so nothing else recompiles needlessly.
#
# sf-codegen is the in-tree target when there is one (this project), else
# the program STATEFUN_CODEGEN, by default found next to this file's
# installation (<prefix>/bin) or in PATH.
include_guard(GLOBAL)

function(statefun_add_entities target)
  if(NOT TARGET ${target})
    message(FATAL_ERROR "statefun_add_entities: no target '${target}'")
  endif()
  if(NOT ARGN)
    message(FATAL_ERROR "statefun_add_entities(${target}): no IR file given")
  endif()
  if(TARGET sf-codegen)
    set(codegen $<TARGET_FILE:sf-codegen>)
    set(codegen_dep sf-codegen)
  else()
    if(NOT STATEFUN_CODEGEN)
      find_program(STATEFUN_CODEGEN sf-codegen
        HINTS "${_STATEFUN_ENTITIES_DIR}/../../../bin")
    endif()
    if(NOT STATEFUN_CODEGEN)
      message(FATAL_ERROR "statefun_add_entities: sf-codegen not found "
                          "(set STATEFUN_CODEGEN to its path)")
    endif()
    set(codegen ${STATEFUN_CODEGEN})
    set(codegen_dep ${STATEFUN_CODEGEN})
  endif()
  set(outdir ${CMAKE_CURRENT_BINARY_DIR}/entities)
  foreach(ir IN LISTS ARGN)
    get_filename_component(ir_abs "${ir}" ABSOLUTE)
    get_filename_component(name "${ir_abs}" NAME)
    string(REGEX REPLACE "(\\.ir)?\\.json$" "" base "${name}")
    if(base STREQUAL "")
      set(base entities)
    endif()
    string(MAKE_C_IDENTIFIER "${base}" base)
    add_custom_command(
      OUTPUT ${outdir}/${base}.h ${outdir}/${base}.c
      COMMAND ${CMAKE_COMMAND} -E make_directory ${outdir}
      COMMAND ${codegen} ${ir_abs} -o ${outdir}
      # from the top of the source tree, so that the generated files'
      # banner names the IR relative to it (sf-codegen never writes an
      # absolute path there)
      WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}
      DEPENDS ${ir_abs} ${codegen_dep}
      COMMENT "sf-codegen ${name} -> entities/${base}.h, ${base}.c"
      VERBATIM)
    target_sources(${target} PRIVATE ${outdir}/${base}.c ${outdir}/${base}.h)
  endforeach()
  target_include_directories(${target} PUBLIC ${outdir})
endfunction()

set(_STATEFUN_ENTITIES_DIR "${CMAKE_CURRENT_LIST_DIR}" CACHE INTERNAL
    "where StatefunEntities.cmake is")

# Installed with the package config when included from the statefun
# project itself (find_package(statefun) users include it from there).
if(PROJECT_NAME STREQUAL "statefun" AND CMAKE_INSTALL_LIBDIR)
  install(FILES ${CMAKE_CURRENT_LIST_FILE}
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/statefun)
endif()
