# CPack: `make deb` (cpack -G DEB) packages what `make install` installs, under /usr. Depends are
# computed from the binaries by dpkg-shlibdeps, so they follow what is actually linked.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME enclave)
set(CPACK_PACKAGE_VENDOR "enclave")
set(CPACK_PACKAGE_CONTACT "enclave maintainers <enclave@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Secure-Enclave-style key service (software enclave and TPM 2.0)")
set(CPACK_PACKAGE_DESCRIPTION
    "enclave keeps P-256 keys in a daemon (software or TPM 2.0) behind access controls (biometry, "
    "passcode) and offers them to the command line, a C library, Python and PKCS#11.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/package)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Opened with dlopen on first use (src/auth/pinentry.cpp on the first passcode prompt,
# src/token/tpm2/tss2_mu.cpp when the CLI verifies an attestation, libcurl by `enclave rp`):
# invisible to dpkg-shlibdeps, so named here; merged with what it computes.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libassuan0, libgpg-error0, libtss2-mu0, libcurl4")
# The package's own shared libraries satisfy each other.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "pinentry-curses | pinentry")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "fprintd, swtpm")
# Debian ships stripped binaries; debug info would also make the package slow to build.
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)
# cpack (and `make install`) must not build every target first: `make deb` and `make install` build
# what they need, and the package test would otherwise rebuild the whole test suite.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
include(CPack)
