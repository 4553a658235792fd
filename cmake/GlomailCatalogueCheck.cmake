# cmake -DXGETTEXT=... -DMSGCMP=... -DPO=<lang.po> -DSOURCE_DIR=<dir>
#       -DSOURCES=<a.c;b.c> -DWORK=<scratch.pot> -P GlomailCatalogueCheck.cmake
# Fails when a translatable string of the sources has no translation in
# PO: extracts the messages afresh and compares with msgcmp, so a catalogue
# that fell behind the code is caught by the tests, not by users.
foreach(var XGETTEXT MSGCMP PO SOURCE_DIR SOURCES WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "${var} is not set")
  endif()
endforeach()
string(REPLACE "," ";" sources "${SOURCES}")
execute_process(
  COMMAND "${XGETTEXT}" --language=C --from-code=UTF-8 --keyword=_
    --keyword=N_ --no-location -o "${WORK}" ${sources}
  WORKING_DIRECTORY "${SOURCE_DIR}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "xgettext failed")
endif()
execute_process(COMMAND "${MSGCMP}" "${PO}" "${WORK}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PO} lacks translations of the messages above")
endif()
