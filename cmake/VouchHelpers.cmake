# Build helpers shared by every component.

# Warnings live on an interface target so generated code (protobuf) can opt out.
add_library(vouch_warnings INTERFACE)
target_compile_options(vouch_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
  -Wnull-dereference -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
if(VOUCH_WERROR)
  target_compile_options(vouch_warnings INTERFACE -Werror)
  # GCC 12's -Wnull-dereference reports "potential null pointer dereference" inside libstdc++
  # (std::string, std::vector, streambuf) once inlined into our code at -O2; the same code is
  # clean at -O0. Those reports stay visible as warnings in optimized builds but do not fail
  # them; Debug builds (every helper's and developer's) keep it an error.
  target_compile_options(vouch_warnings INTERFACE
    $<$<NOT:$<CONFIG:Debug>>:-Wno-error=null-dereference>)
endif()

if(VOUCH_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# vouch_library(NAME SOURCES a.cc b.cc DEPS x y [PRIVATE_DEPS z])
# One static library per component, with an explicit source list; DEPS encode the layering.
function(vouch_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE vouch_warnings ${ARG_PRIVATE_DEPS})
endfunction()

# vouch_test(NAME SOURCES a_test.cc DEPS lib... [PROPERTIES prop value...])
# A doctest executable whose cases ctest discovers one by one. Tests run from the build
# directory; VOUCH_TEST_DATA points at tests/data in the source tree. PROPERTIES are set on
# every discovered case (e.g. SKIP_REGULAR_EXPRESSION).
function(vouch_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PROPERTIES" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} vouch_test_main vouch_warnings)
  target_compile_definitions(${name} PRIVATE
    VOUCH_TEST_DATA="${PROJECT_SOURCE_DIR}/tests/data")
  if(ARG_PROPERTIES)
    doctest_discover_tests(${name} ADD_LABELS 1 PROPERTIES ${ARG_PROPERTIES})
  else()
    doctest_discover_tests(${name} ADD_LABELS 1)
  endif()
endfunction()
