/*
 * aes_gcm.h
 *     AES-256-GCM sealing and opening of one message (OpenSSL EVP), and the random bytes and key
 *     derivation the encryption needs. The building blocks of the repository key (repo_key.h)
 *     and of encrypted objects (encrypted_storage.h); nothing here knows about files.
 *
 * Open() returns false on any authentication failure and writes no plaintext the caller could
 * mistake for verified bytes: its output is only meaningful when it returns true.
 */
#ifndef PG_ARK_HELPER_AES_GCM_H
#define PG_ARK_HELPER_AES_GCM_H

#include <stddef.h>
#include <stdint.h>

#include <array>
#include <string>

#include "status.h"

namespace pg_ark {

constexpr size_t kAesKeySize = 32;
constexpr size_t kGcmNonceSize = 12;
constexpr size_t kGcmTagSize = 16;

/* A 256-bit key, wiped from memory when it goes (best effort: copies the compiler makes may stay). */
class SecretKey {
  public:
    SecretKey() { bytes_.fill(0); }
    explicit SecretKey(const uint8_t *bytes);
    SecretKey(const SecretKey &other) : bytes_(other.bytes_) {}
    SecretKey &operator=(const SecretKey &other) {
        bytes_ = other.bytes_;
        return *this;
    }
    ~SecretKey();
    const uint8_t *data() const { return bytes_.data(); }
    uint8_t *data() { return bytes_.data(); }

  private:
    std::array<uint8_t, kAesKeySize> bytes_;
};

/* Cryptographically strong random bytes (RAND_bytes); internal error when OpenSSL has none. */
Status RandomBytes(uint8_t *out, size_t size);

/*
 * Seals plaintext: writes size bytes of ciphertext and then the 16-byte tag to out (which must
 * hold size + kGcmTagSize bytes). The nonce must never repeat under one key.
 */
Status GcmSeal(const SecretKey &key, const uint8_t nonce[kGcmNonceSize], const uint8_t *aad,
               size_t aad_size, const uint8_t *plaintext, size_t size, uint8_t *out);

/*
 * Opens sealed (ciphertext followed by the tag, sealed_size >= kGcmTagSize): writes
 * sealed_size - kGcmTagSize bytes of plaintext to out and returns whether the tag verified.
 */
bool GcmOpen(const SecretKey &key, const uint8_t nonce[kGcmNonceSize], const uint8_t *aad,
             size_t aad_size, const uint8_t *sealed, size_t sealed_size, uint8_t *out);

/* HMAC-SHA256(key, message) as a key: derives per-object keys from the repository key. */
SecretKey DeriveKey(const SecretKey &key, const uint8_t *message, size_t size);

/* Wipes a string holding a secret (a passphrase) before it is freed. */
void WipeString(std::string *secret);

}  // namespace pg_ark

#endif
