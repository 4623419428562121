# cmake -DREADELF=... -DOBJECT=stub.o -P check_stub_page.cmake
# The stub page is copied to wherever the monitor maps it: its object may
# have no relocations and nothing allocated outside .syscall_stub.
execute_process(COMMAND ${READELF} -rW ${OBJECT} OUTPUT_VARIABLE relocs
                COMMAND_ERROR_IS_FATAL ANY)
if(NOT relocs MATCHES "There are no relocations")
  message(FATAL_ERROR "${OBJECT}: the stub page has relocations:\n${relocs}")
endif()

execute_process(COMMAND ${READELF} -SW ${OBJECT} OUTPUT_VARIABLE sections
                COMMAND_ERROR_IS_FATAL ANY)
string(REPLACE "\n" ";" lines "${sections}")
foreach(line IN LISTS lines)
  # [Nr] Name Type Address Off Size ES Flg ...
  if(line MATCHES "\\] +([^ ]+) +(PROGBITS|NOBITS) +[0-9a-f]+ +[0-9a-f]+ +([0-9a-f]+) +[0-9a-f]+ +([A-Z]*A[A-Z]*) ")
    if(NOT CMAKE_MATCH_1 STREQUAL ".syscall_stub" AND NOT CMAKE_MATCH_3 MATCHES "^0+$")
      message(FATAL_ERROR "${OBJECT}: ${CMAKE_MATCH_1} holds 0x${CMAKE_MATCH_3} bytes outside the stub page")
    endif()
  endif()
endforeach()
