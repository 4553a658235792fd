# FindCmocka: locate cmocka through pkg-config and expose
# the imported target Cmocka::Cmocka (Debian package: libcmocka-dev).
include(FindPackageHandleStandardArgs)
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_CMOCKA QUIET IMPORTED_TARGET GLOBAL cmocka)
endif()
find_package_handle_standard_args(Cmocka
  REQUIRED_VARS PC_CMOCKA_FOUND
  VERSION_VAR PC_CMOCKA_VERSION
  REASON_FAILURE_MESSAGE "install libcmocka-dev and pkg-config")
if(Cmocka_FOUND AND NOT TARGET Cmocka::Cmocka)
  add_library(Cmocka::Cmocka ALIAS PkgConfig::PC_CMOCKA)
endif()
