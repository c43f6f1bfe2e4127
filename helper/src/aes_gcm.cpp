/*
 * aes_gcm.cpp
 *     See aes_gcm.h. Every EVP_CIPHER_CTX is owned by a unique_ptr, so no path leaks one.
 */
#include "aes_gcm.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <string.h>

#include <cstdlib>
#include <memory>

namespace pg_ark {

namespace {

struct CipherContextFree {
    void operator()(EVP_CIPHER_CTX *ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, CipherContextFree>;

}  // namespace

SecretKey::SecretKey(const uint8_t *bytes) { memcpy(bytes_.data(), bytes, bytes_.size()); }

SecretKey::~SecretKey() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

Status RandomBytes(uint8_t *out, size_t size) {
    if (RAND_bytes(out, static_cast<int>(size)) != 1)
        return Status(ErrorKind::internal, "could not generate random bytes (OpenSSL RAND_bytes failed)");
    return Status::Ok();
}

Status GcmSeal(const SecretKey &key, const uint8_t nonce[kGcmNonceSize], const uint8_t *aad,
               size_t aad_size, const uint8_t *plaintext, size_t size, uint8_t *out) {
    CipherContext ctx(EVP_CIPHER_CTX_new());
    int length = 0;
    bool ok = ctx != nullptr &&
              EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kGcmNonceSize, nullptr) == 1 &&
              EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce) == 1 &&
              (aad_size == 0 ||
               EVP_EncryptUpdate(ctx.get(), nullptr, &length, aad, static_cast<int>(aad_size)) == 1) &&
              (size == 0 ||
               EVP_EncryptUpdate(ctx.get(), out, &length, plaintext, static_cast<int>(size)) == 1) &&
              EVP_EncryptFinal_ex(ctx.get(), out + size, &length) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kGcmTagSize, out + size) == 1;
    if (!ok) return Status(ErrorKind::internal, "could not encrypt (OpenSSL AES-256-GCM failed)");
    return Status::Ok();
}

bool GcmOpen(const SecretKey &key, const uint8_t nonce[kGcmNonceSize], const uint8_t *aad,
             size_t aad_size, const uint8_t *sealed, size_t sealed_size, uint8_t *out) {
    if (sealed_size < kGcmTagSize) return false;
    size_t size = sealed_size - kGcmTagSize;
    uint8_t tag[kGcmTagSize];
    memcpy(tag, sealed + size, kGcmTagSize);
    CipherContext ctx(EVP_CIPHER_CTX_new());
    int length = 0;
    uint8_t final_block[16];
    return ctx != nullptr &&
           EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kGcmNonceSize, nullptr) == 1 &&
           EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), nonce) == 1 &&
           (aad_size == 0 ||
            EVP_DecryptUpdate(ctx.get(), nullptr, &length, aad, static_cast<int>(aad_size)) == 1) &&
           (size == 0 || EVP_DecryptUpdate(ctx.get(), out, &length, sealed, static_cast<int>(size)) == 1) &&
           EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kGcmTagSize, tag) == 1 &&
           EVP_DecryptFinal_ex(ctx.get(), final_block, &length) == 1;
}

SecretKey DeriveKey(const SecretKey &key, const uint8_t *message, size_t size) {
    SecretKey derived;
    unsigned int length = 0;
    /* HMAC-SHA256 failing means OpenSSL itself is unusable (as in sha256.cpp). */
    if (HMAC(EVP_sha256(), key.data(), kAesKeySize, message, size, derived.data(), &length) == nullptr ||
        length != kAesKeySize)
        std::abort();
    return derived;
}

void WipeString(std::string *secret) {
    if (!secret->empty()) OPENSSL_cleanse(&(*secret)[0], secret->size());
    secret->clear();
}

}  // namespace pg_ark
