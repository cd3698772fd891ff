# Writes IN as a C++ raw string constant `kCatalogJson` into OUT.
file(READ ${IN} CONTENT)
file(WRITE ${OUT} "// Generated from errors/catalog.json; do not edit.\n#pragma once\nnamespace enclave::catalog {\ninline constexpr char kCatalogJson[] = R\"enclave_catalog(${CONTENT})enclave_catalog\";\n}\n")
