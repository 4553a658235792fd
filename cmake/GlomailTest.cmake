# glomail_add_test(<name> SOURCES <src...> LABELS <label> [LIBS <lib...>] [TIMEOUT <s>])
# Builds one cmocka binary, links it with the common library and cmocka, and
# registers it with ctest. One binary per module keeps failures easy to place.
# The label says what kind of test it is (tests/CMakeLists.txt lists them):
# every test has one, so "ctest -L unit" runs a known set.
set(GLOMAIL_TEST_LABELS unit e2e hardening bench fuzz)
function(glomail_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_LABELS)
    message(FATAL_ERROR "glomail_add_test(${name}): give it LABELS, one of "
      "${GLOMAIL_TEST_LABELS}")
  endif()
  foreach(l ${T_LABELS})
    if(NOT l IN_LIST GLOMAIL_TEST_LABELS)
      message(FATAL_ERROR "glomail_add_test(${name}): unknown label ${l}")
    endif()
  endforeach()
  add_executable(${name} ${T_SOURCES})
  glomail_warnings(${name})
  target_link_libraries(${name} PRIVATE glomail_common Cmocka::Cmocka ${T_LIBS})
  target_include_directories(${name} PRIVATE "${PROJECT_SOURCE_DIR}/tests/support")
  target_compile_definitions(${name} PRIVATE
    GLOMAIL_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    GLOMAIL_BINARY_DIR="${PROJECT_BINARY_DIR}")
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "CMOCKA_MESSAGE_OUTPUT=stdout")
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
endfunction()
