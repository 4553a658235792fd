# GlomailPackaging: installs the system integration files (dist/) and sets up
# CPack, so "cpack -G DEB" in a build tree makes a Debian package of
# everything "cmake --install" puts in place: binaries, systemd units, the
# configuration (a conffile), manual pages and the client's catalogues.
#
# Configure a packaging build with -DCMAKE_INSTALL_PREFIX=/usr: paths inside
# the units and manual pages are those of the install prefix.

# The Debian revision of the package; dist/debian/changelog's latest entry
# is PROJECT_VERSION-GLOMAIL_DEB_RELEASE (dist/ checks).
set(GLOMAIL_DEB_RELEASE 1)
add_subdirectory("${PROJECT_SOURCE_DIR}/dist" "${PROJECT_BINARY_DIR}/dist")

if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "glomail: packages are meant to be built with "
    "-DCMAKE_INSTALL_PREFIX=/usr (now ${CMAKE_INSTALL_PREFIX})")
endif()

set(CPACK_PACKAGE_NAME "glomail")
set(CPACK_PACKAGE_VENDOR "glomail")
set(CPACK_PACKAGE_CONTACT "glomail maintainers <postmaster@glo2000.ca>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "small internal mail system: server glomaild and client glomail")
set(CPACK_PACKAGE_DESCRIPTION
  "glomaild keeps accounts and Maildir mailboxes and runs as a hardened,
socket-activated systemd service; glomail reads and sends mail, from menus
or scripts, in English or French.")
set(CPACK_RESOURCE_FILE_LICENSE "${PROJECT_SOURCE_DIR}/LICENSE")
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Not a native package: the changelog is changelog.Debian.gz.
set(CPACK_DEBIAN_PACKAGE_RELEASE "${GLOMAIL_DEB_RELEASE}")
set(CPACK_DEBIAN_PACKAGE_SECTION "mail")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
# Dependencies from the libraries the binaries link (dpkg-shlibdeps);
# without it, the Debian 12 names of what glomail links.
find_program(GLOMAIL_DPKG_SHLIBDEPS dpkg-shlibdeps)
# The maintainer scripts run deb-systemd-helper and deb-systemd-invoke.
set(deps "init-system-helpers (>= 1.52)")
if(GLOMAIL_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  string(APPEND deps ", libc6 (>= 2.34), libevent-core-2.1-7, libsodium23, libjansson4, libsystemd0")
endif()
set(CPACK_DEBIAN_PACKAGE_DEPENDS "${deps}")

# The configuration is the administrator's once installed: dpkg keeps
# local changes on upgrade. The maintainer scripts (dist/debian) are those
# dh_installsystemd writes: they tell systemd about new or removed units.
set(GLOMAIL_DEB_CONTROL "${PROJECT_BINARY_DIR}/debian-control")
file(MAKE_DIRECTORY "${GLOMAIL_DEB_CONTROL}")
file(WRITE "${GLOMAIL_DEB_CONTROL}/conffiles"
  "${CMAKE_INSTALL_FULL_SYSCONFDIR}/glomail/glomaild.conf\n")
foreach(script postinst prerm postrm)
  configure_file("${PROJECT_SOURCE_DIR}/dist/debian/${script}"
    "${GLOMAIL_DEB_CONTROL}/${script}" COPYONLY
    FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
    GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  "${GLOMAIL_DEB_CONTROL}/conffiles;${GLOMAIL_DEB_CONTROL}/postinst;${GLOMAIL_DEB_CONTROL}/prerm;${GLOMAIL_DEB_CONTROL}/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_SOURCE_GENERATOR "TGZ")
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build[^/]*/" "\\\\.deb$")
include(CPack)
