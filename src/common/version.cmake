# Writes OUT with the project's VERSION and the git revision of SOURCE_DIR ("unknown" outside a
# git checkout). Runs on every build but rewrites OUT only when the text changes, so a new commit
# recompiles one file.
set(REVISION "unknown")
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(COMMAND ${GIT_EXECUTABLE} -C ${SOURCE_DIR} describe --always --dirty --abbrev=12
                  OUTPUT_VARIABLE DESCRIBED OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE RC)
  if(RC EQUAL 0 AND DESCRIBED)
    set(REVISION "${DESCRIBED}")
  endif()
endif()
set(TEXT "// Generated at build time by src/common/version.cmake; do not edit.\n#pragma once\n#define ENCLAVE_VERSION_STRING \"${VERSION}\"\n#define ENCLAVE_GIT_REVISION \"${REVISION}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} OLD)
endif()
if(NOT "${OLD}" STREQUAL "${TEXT}")
  file(WRITE ${OUT} "${TEXT}")
endif()
