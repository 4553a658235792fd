# FindLibevent: locate libevent_core libevent_pthreads through pkg-config and expose
# the imported target Libevent::Libevent (Debian package: libevent-dev).
include(FindPackageHandleStandardArgs)
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_LIBEVENT QUIET IMPORTED_TARGET GLOBAL libevent_core libevent_pthreads)
endif()
find_package_handle_standard_args(Libevent
  REQUIRED_VARS PC_LIBEVENT_FOUND
  VERSION_VAR PC_LIBEVENT_VERSION
  REASON_FAILURE_MESSAGE "install libevent-dev and pkg-config")
if(Libevent_FOUND AND NOT TARGET Libevent::Libevent)
  add_library(Libevent::Libevent ALIAS PkgConfig::PC_LIBEVENT)
endif()
