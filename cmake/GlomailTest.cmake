# glomail_add_test(<name> SOURCES <src...> [LIBS <lib...>] [TIMEOUT <s>] [LABELS <l...>])
# Builds one cmocka binary, links it with the common library and cmocka, and
# registers it with ctest. One binary per module keeps failures easy to place.
function(glomail_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  glomail_warnings(${name})
  target_link_libraries(${name} PRIVATE glomail_common Cmocka::Cmocka ${T_LIBS})
  target_compile_definitions(${name} PRIVATE
    GLOMAIL_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    GLOMAIL_BINARY_DIR="${PROJECT_BINARY_DIR}")
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "CMOCKA_MESSAGE_OUTPUT=stdout")
  if(T_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()
