/*
 * sha256.cpp
 *     SHA-256 through OpenSSL's EVP interface.
 */
#include "sha256.h"

#include <openssl/evp.h>

#include <cstdlib>

#include "hex.h"

namespace pg_ark {

struct Sha256::Context {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ~Context() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
    /* Failing to initialise a digest means OpenSSL itself is unusable: nothing sane to do. */
    if (context_->ctx == nullptr || EVP_DigestInit_ex(context_->ctx, EVP_sha256(), nullptr) != 1)
        std::abort();
}

Sha256::~Sha256() = default;

void Sha256::Update(const void *data, size_t size) {
    if (size > 0 && EVP_DigestUpdate(context_->ctx, data, size) != 1) std::abort();
}

Sha256Digest Sha256::Finish() {
    Sha256Digest digest{};
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(context_->ctx, digest.data(), &length) != 1 || length != digest.size())
        std::abort();
    return digest;
}

Sha256Digest Sha256Of(const void *data, size_t size) {
    Sha256 hash;
    hash.Update(data, size);
    return hash.Finish();
}

std::string ToHex(const Sha256Digest &digest) { return HexOf(digest.data(), digest.size()); }

}  // namespace pg_ark
