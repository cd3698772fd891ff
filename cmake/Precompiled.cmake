# Precompiled headers for the instrumented trees (ENCLAVE_PCH, on in the sanitizer and fuzz trees).
# nlohmann/json.hpp reaches 215 of the 228 translation units and costs each about 3 s of CPU to
# parse at -O0 under ASan; gtest and gmock add a second per test file. One header is compiled once
# per tree and kind of target and every C++ target reuses it.
#
# Not in the optimised trees: g++ 12 at -O2 then reports its own libstdc++ (std::string's
# operator+) under -Warray-bounds and -Wstringop-overflow, false positives that headers read as
# system headers do not raise. A header the compiler finds unusable for a unit (other flags) is
# parsed normally: slower, never different.

set(enclave_pch_cxx "$<$<COMPILE_LANGUAGE:CXX>:<nlohmann/json.hpp$<ANGLE-R>>"
                    "$<$<COMPILE_LANGUAGE:CXX>:<string$<ANGLE-R>>"
                    "$<$<COMPILE_LANGUAGE:CXX>:<vector$<ANGLE-R>>"
                    "$<$<COMPILE_LANGUAGE:CXX>:<map$<ANGLE-R>>")
set(enclave_pch_test "$<$<COMPILE_LANGUAGE:CXX>:<gtest/gtest.h$<ANGLE-R>>"
                     "$<$<COMPILE_LANGUAGE:CXX>:<gmock/gmock.h$<ANGLE-R>>")

# The donors: units that only compile the headers. A header is used only with the flags it was
# built with, and libraries are -fPIC where programs are -fPIE: one donor for each.
file(WRITE ${CMAKE_BINARY_DIR}/pch/empty.cpp "// A precompiled header's donor unit.\n")
file(WRITE ${CMAKE_BINARY_DIR}/pch/main.cpp "int main() { return 0; }\n")
add_library(enclave_pch_library STATIC ${CMAKE_BINARY_DIR}/pch/empty.cpp)
add_executable(enclave_pch_program ${CMAKE_BINARY_DIR}/pch/main.cpp)
add_executable(enclave_pch_test ${CMAKE_BINARY_DIR}/pch/main.cpp)
foreach(donor enclave_pch_library enclave_pch_program enclave_pch_test)
  target_link_libraries(${donor} PRIVATE nlohmann_json::nlohmann_json)
  target_precompile_headers(${donor} PRIVATE ${enclave_pch_cxx})
  set_target_properties(${donor} PROPERTIES ARCHIVE_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/pch
                                            RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/pch)
endforeach()
target_link_libraries(enclave_pch_test PRIVATE GTest::gtest GTest::gmock)
target_precompile_headers(enclave_pch_test PRIVATE ${enclave_pch_test})

function(enclave_targets_in dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    enclave_targets_in(${sub} more)
    list(APPEND targets ${more})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

# Call after every add_subdirectory: each C++ library and program reuses a donor's header (test
# programs the one with gtest), and links the json headers' include path the header needs.
function(enclave_use_precompiled_headers)
  enclave_targets_in(${CMAKE_SOURCE_DIR} targets)
  get_property(tests GLOBAL PROPERTY ENCLAVE_TEST_TARGETS)
  foreach(t IN LISTS targets)
    get_target_property(type ${t} TYPE)
    if(t MATCHES "^enclave_pch" OR NOT type MATCHES "^(EXECUTABLE|STATIC_LIBRARY|SHARED_LIBRARY|MODULE_LIBRARY|OBJECT_LIBRARY)$")
      continue()
    endif()
    get_target_property(sources ${t} SOURCES)
    list(FILTER sources INCLUDE REGEX "\\.(cpp|cc)$")
    if(NOT sources)
      continue()
    endif()
    target_link_libraries(${t} PRIVATE nlohmann_json::nlohmann_json)
    if(t IN_LIST tests)
      target_precompile_headers(${t} REUSE_FROM enclave_pch_test)
    elseif(type STREQUAL "EXECUTABLE")
      target_precompile_headers(${t} REUSE_FROM enclave_pch_program)
    else()
      target_precompile_headers(${t} REUSE_FROM enclave_pch_library)
    endif()
  endforeach()
endfunction()
