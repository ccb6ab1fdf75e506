# What `cmake --install` puts where, and the Debian package (`cpack -G DEB`
# in the build folder makes xcap_VERSION_ARCH.deb).

# Wireshark runs the programs in its own extcap folder, compiled in: on
# Debian /usr/lib/<multiarch>/wireshark/extcap. GNUInstallDirs names
# lib/<multiarch> only when the prefix is /usr, but the package always
# installs under /usr whatever the build's prefix, so the multiarch folder
# is the default wherever CMake knows the architecture.
if(CMAKE_LIBRARY_ARCHITECTURE)
  set(xcap_extcap_default "lib/${CMAKE_LIBRARY_ARCHITECTURE}/wireshark/extcap")
else()
  set(xcap_extcap_default "${CMAKE_INSTALL_LIBDIR}/wireshark/extcap")
endif()
set(XCAP_EXTCAP_DIR "${xcap_extcap_default}" CACHE STRING
  "Wireshark's extcap folder: relative to the install prefix, or absolute")

install(TARGETS xcap RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${XCAP_MAN_PAGES} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# The extcap entry is a link to the installed xcap, which answers
# Wireshark's extcap calls itself (cli/extcap.h). Relative, so that it holds
# in any prefix and in the package's staging folder.
if(IS_ABSOLUTE "${XCAP_EXTCAP_DIR}")
  set(xcap_extcap_target "${CMAKE_INSTALL_FULL_BINDIR}/xcap")
else()
  file(RELATIVE_PATH xcap_extcap_target "/prefix/${XCAP_EXTCAP_DIR}" "/prefix/${CMAKE_INSTALL_BINDIR}/xcap")
endif()
file(MAKE_DIRECTORY ${CMAKE_BINARY_DIR}/extcap)
file(CREATE_LINK ${xcap_extcap_target} ${CMAKE_BINARY_DIR}/extcap/xcap SYMBOLIC)
install(FILES ${CMAKE_BINARY_DIR}/extcap/xcap DESTINATION ${XCAP_EXTCAP_DIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME xcap)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "xcap developers <xcap@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "packet capture and replay at line rate with AF_XDP")
set(CPACK_PACKAGE_DESCRIPTION "xcap captures packets through AF_XDP sockets or BPF ring buffers into
pcap or pcapng, traces what an XDP program does to each packet, and replays
captures through AF_XDP. It is also a capture source of Wireshark and tshark
(extcap).")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# dpkg-shlibdeps (dpkg-dev) declares the libraries xcap links: libbpf,
# libxdp, libpcap, libc, libstdc++.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "tshark | wireshark")
include(CPack)
