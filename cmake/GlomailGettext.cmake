# glomail_gettext(<target> DOMAIN <domain> PO_DIR <dir> LANGUAGES <lang...>
#                 [SOURCES <src...>])
# Compiles <PO_DIR>/<lang>.po with msgfmt into the build tree at
# <build>/<CMAKE_INSTALL_LOCALEDIR>/<lang>/LC_MESSAGES/<domain>.mo, the same
# layout as an installed tree, so a program in <build>/<subdir>/ finds its
# catalogues at ../<CMAKE_INSTALL_LOCALEDIR> as an installed one does from
# bin/. Installs them, and adds <target>-pot, a target (not built by
# default) that regenerates <PO_DIR>/<domain>.pot from SOURCES with
# xgettext and merges it into each .po with msgmerge.
find_package(Gettext REQUIRED)
find_program(GLOMAIL_XGETTEXT xgettext)

function(glomail_gettext target)
  cmake_parse_arguments(G "" "DOMAIN;PO_DIR" "LANGUAGES;SOURCES" ${ARGN})
  set(mos "")
  foreach(lang IN LISTS G_LANGUAGES)
    set(po "${G_PO_DIR}/${lang}.po")
    set(dir
      "${PROJECT_BINARY_DIR}/${CMAKE_INSTALL_LOCALEDIR}/${lang}/LC_MESSAGES")
    set(mo "${dir}/${G_DOMAIN}.mo")
    # --check verifies that format strings match their msgids.
    add_custom_command(OUTPUT "${mo}"
      COMMAND ${CMAKE_COMMAND} -E make_directory "${dir}"
      COMMAND ${GETTEXT_MSGFMT_EXECUTABLE} --check -o "${mo}" "${po}"
      DEPENDS "${po}"
      COMMENT "Compiling the ${lang} catalogue of ${G_DOMAIN}"
      VERBATIM)
    install(FILES "${mo}"
      DESTINATION "${CMAKE_INSTALL_LOCALEDIR}/${lang}/LC_MESSAGES")
    list(APPEND mos "${mo}")
  endforeach()
  add_custom_target(${target}-mo ALL DEPENDS ${mos})
  add_dependencies(${target} ${target}-mo)

  if(GLOMAIL_XGETTEXT AND G_SOURCES)
    set(pot "${G_PO_DIR}/${G_DOMAIN}.pot")
    set(merges "")
    foreach(lang IN LISTS G_LANGUAGES)
      list(APPEND merges COMMAND ${GETTEXT_MSGMERGE_EXECUTABLE} --quiet
        --update --backup=none --no-location --sort-output
        "${G_PO_DIR}/${lang}.po" "${pot}")
    endforeach()
    add_custom_target(${target}-pot
      COMMAND ${GLOMAIL_XGETTEXT} --language=C --from-code=UTF-8
        --keyword=_ --keyword=N_ --add-comments=TRANSLATORS:
        --package-name=${PROJECT_NAME} --package-version=${PROJECT_VERSION}
        --msgid-bugs-address= --no-location --sort-output
        -o "${pot}" ${G_SOURCES}
      ${merges}
      WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}"
      COMMENT "Extracting the messages of ${G_DOMAIN}"
      VERBATIM)
  endif()
endfunction()
