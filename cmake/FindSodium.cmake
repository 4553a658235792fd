# FindSodium: locate libsodium through pkg-config and expose
# the imported target Sodium::Sodium (Debian package: libsodium-dev).
include(FindPackageHandleStandardArgs)
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_SODIUM QUIET IMPORTED_TARGET GLOBAL libsodium)
endif()
find_package_handle_standard_args(Sodium
  REQUIRED_VARS PC_SODIUM_FOUND
  VERSION_VAR PC_SODIUM_VERSION
  REASON_FAILURE_MESSAGE "install libsodium-dev and pkg-config")
if(Sodium_FOUND AND NOT TARGET Sodium::Sodium)
  add_library(Sodium::Sodium ALIAS PkgConfig::PC_SODIUM)
endif()
