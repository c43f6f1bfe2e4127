/*
 * sha256.h
 *     Incremental SHA-256 (OpenSSL EVP).
 */
#ifndef PG_ARK_HELPER_SHA256_H
#define PG_ARK_HELPER_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include <array>
#include <memory>
#include <string>

namespace pg_ark {

using Sha256Digest = std::array<uint8_t, 32>;

class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256 &) = delete;
    Sha256 &operator=(const Sha256 &) = delete;

    void Update(const void *data, size_t size);
    Sha256Digest Finish();

  private:
    struct Context;
    std::unique_ptr<Context> context_;
};

Sha256Digest Sha256Of(const void *data, size_t size);
std::string ToHex(const Sha256Digest &digest);

}  // namespace pg_ark

#endif
