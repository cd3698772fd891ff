# Runs EXE with ARGS ("|"-separated) and writes its standard output to OUT; fails the build if EXE fails.
string(REPLACE "|" ";" ARGS "${ARGS}")
execute_process(COMMAND ${EXE} ${ARGS} OUTPUT_FILE ${OUT}.tmp RESULT_VARIABLE RC)
if(NOT RC EQUAL 0)
  file(REMOVE ${OUT}.tmp)
  message(FATAL_ERROR "${EXE} ${ARGS} failed: ${RC}")
endif()
file(RENAME ${OUT}.tmp ${OUT})
