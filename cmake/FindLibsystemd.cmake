# FindLibsystemd: locate libsystemd through pkg-config and expose
# the imported target Libsystemd::Libsystemd (Debian package: libsystemd-dev).
# Optional: glomaild speaks the notification and socket-activation protocols
# itself when it is missing. -DCMAKE_DISABLE_FIND_PACKAGE_Libsystemd=ON
# builds without it on purpose.
include(FindPackageHandleStandardArgs)
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_LIBSYSTEMD QUIET IMPORTED_TARGET GLOBAL libsystemd)
endif()
find_package_handle_standard_args(Libsystemd
  REQUIRED_VARS PC_LIBSYSTEMD_FOUND
  VERSION_VAR PC_LIBSYSTEMD_VERSION
  REASON_FAILURE_MESSAGE "install libsystemd-dev and pkg-config")
if(Libsystemd_FOUND AND NOT TARGET Libsystemd::Libsystemd)
  add_library(Libsystemd::Libsystemd ALIAS PkgConfig::PC_LIBSYSTEMD)
endif()
