/*
 * hex.h
 *     Lower-case hex of a byte string (checksums in manifests and messages).
 */
#ifndef PG_ARK_HELPER_HEX_H
#define PG_ARK_HELPER_HEX_H

#include <stddef.h>
#include <stdint.h>

#include <string>

namespace pg_ark {

inline std::string HexOf(const uint8_t *bytes, size_t size) {
    static const char kDigits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(size * 2);
    for (size_t i = 0; i < size; i++) {
        hex.push_back(kDigits[bytes[i] >> 4]);
        hex.push_back(kDigits[bytes[i] & 0xf]);
    }
    return hex;
}

}  // namespace pg_ark

#endif
