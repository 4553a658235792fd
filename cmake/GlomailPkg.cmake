# glomail_find_pkg(<target> <debian-package> <pkg-config module>...)
# Finds the modules with pkg-config and exposes them as the imported target
# <target> (for example Sodium::Sodium); stops, naming the Debian package
# to install, when one is missing. Every library glomail uses ships a
# pkg-config file on Debian, so this one helper finds them all.
find_package(PkgConfig REQUIRED)

function(glomail_find_pkg target deb)
  string(MAKE_C_IDENTIFIER "PC_${target}" pc)
  pkg_check_modules(${pc} QUIET IMPORTED_TARGET GLOBAL ${ARGN})
  if(NOT ${pc}_FOUND)
    message(FATAL_ERROR "glomail: ${ARGN} not found by pkg-config: "
      "install ${deb} (sh cmake/deps.sh installs everything)")
  endif()
  add_library(${target} ALIAS PkgConfig::${pc})
  message(STATUS "glomail: ${ARGN} ${${pc}_VERSION}")
endfunction()
