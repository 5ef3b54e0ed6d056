# runtime.yaml_parity: sf-local's YAML pass (yaml_probe, built on
# sfl_config) and the YAML parser Flink reads module.yaml with (SnakeYAML in
# StateFun's flink-shaded-jackson jar, run by YamlProbe.java) must accept
# and refuse the same texts: 3,000 generated ones plus the named cases.
# Needs java and the jars the e2e suites fetch (deploy/local/cluster.sh
# fetch, shared with them: hence the lock).
find_package(Python3 COMPONENTS Interpreter REQUIRED)
add_executable(yaml_probe yaml_parity/yaml_probe.c)
target_link_libraries(yaml_probe PRIVATE sfl_config)
target_include_directories(yaml_probe PRIVATE ${PROJECT_SOURCE_DIR}/runtime/src)
target_compile_options(yaml_probe PRIVATE ${SF_WARNINGS})
add_test(NAME runtime.yaml_parity
  COMMAND ${Python3_EXECUTABLE}
          ${CMAKE_CURRENT_SOURCE_DIR}/yaml_parity/yaml_parity.py
          --probe $<TARGET_FILE:yaml_probe> --count 3000)
set_tests_properties(runtime.yaml_parity PROPERTIES TIMEOUT 1200
                     RESOURCE_LOCK e2e)
