# FindJansson: locate jansson through pkg-config and expose
# the imported target Jansson::Jansson (Debian package: libjansson-dev).
include(FindPackageHandleStandardArgs)
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_JANSSON QUIET IMPORTED_TARGET GLOBAL jansson)
endif()
find_package_handle_standard_args(Jansson
  REQUIRED_VARS PC_JANSSON_FOUND
  VERSION_VAR PC_JANSSON_VERSION
  REASON_FAILURE_MESSAGE "install libjansson-dev and pkg-config")
if(Jansson_FOUND AND NOT TARGET Jansson::Jansson)
  add_library(Jansson::Jansson ALIAS PkgConfig::PC_JANSSON)
endif()
