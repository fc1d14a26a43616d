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
  # The TSan build is Debug at -O1 (make test-tsan), which inlines enough for the same reports.
  if(VOUCH_TSAN)
    target_compile_options(vouch_warnings INTERFACE -Wno-error=null-dereference)
  endif()
endif()

if(VOUCH_SANITIZE AND VOUCH_TSAN)
  message(FATAL_ERROR "VOUCH_SANITIZE and VOUCH_TSAN cannot be combined (ASan and TSan exclude each other)")
endif()
# ThreadSanitizer: the libraries from Debian (gRPC, RocksDB, OpenSSL) are not instrumented, so
# tests/tsan.supp names the reports that come from inside them; every test gets it through
# TSAN_OPTIONS (tests/CMakeLists.txt). -O1 keeps the run time bearable.
# GCC 12 warns (-Wtsan) that TSan does not model std::atomic_thread_fence, which Asio uses in
# its handler recycling; the handoff it guards is also ordered by the scheduler's mutex, which
# TSan does see, so the warning is not an error here.
if(VOUCH_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -O1 -Wno-tsan)
  add_link_options(-fsanitize=thread)
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
  # The test support (tests/support: repository simulator, in-memory signer) makes and holds
  # private keys, so every test links the key store (production targets may not; see
  # vouch_forbid_link).
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} vouch_keystore vouch_test_main vouch_warnings)
  target_compile_definitions(${name} PRIVATE
    VOUCH_TEST_DATA="${PROJECT_SOURCE_DIR}/tests/data")
  if(ARG_PROPERTIES)
    doctest_discover_tests(${name} ADD_LABELS 1 PROPERTIES ${ARG_PROPERTIES})
  else()
    doctest_discover_tests(${name} ADD_LABELS 1)
  endif()
endfunction()

# vouch_forbid_link(TARGET FORBIDDEN...)
# Fails the configure step if TARGET links any FORBIDDEN library, directly or through the
# libraries it links (LINK_LIBRARIES and INTERFACE_LINK_LIBRARIES, walked transitively). This
# is how the layering is enforced, e.g. that the verifier carries no private-key code. Call it
# after every library TARGET reaches has been declared (the end of the directory that declares
# TARGET, which comes after its dependencies').
function(vouch_forbid_link target)
  set(seen "")
  set(queue "${target}")
  while(queue)
    list(POP_FRONT queue current)
    if(current IN_LIST seen OR NOT TARGET "${current}")
      continue()
    endif()
    list(APPEND seen "${current}")
    if(current IN_LIST ARGN)
      message(FATAL_ERROR "${target} must not link ${current} (found through its dependencies); "
                          "see the layering in the top-level README")
    endif()
    get_target_property(type "${current}" TYPE)
    set(deps "")
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(direct "${current}" LINK_LIBRARIES)
      if(direct)
        list(APPEND deps ${direct})
      endif()
    endif()
    get_target_property(iface "${current}" INTERFACE_LINK_LIBRARIES)
    if(iface)
      list(APPEND deps ${iface})
    endif()
    foreach(dep IN LISTS deps)
      # Generator expressions such as $<LINK_ONLY:x> (static libraries' private deps): take x.
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" dep "${dep}")
      if(NOT dep MATCHES "^\\$<")
        list(APPEND queue "${dep}")
      endif()
    endforeach()
  endwhile()
endfunction()
