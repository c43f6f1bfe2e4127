/*
 * repo_key.cpp
 *     See repo_key.h.
 */
#include "repo_key.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <string.h>

#include <nlohmann/json.hpp>
#include <vector>

namespace pg_ark {

namespace {

constexpr size_t kSaltSize = 16;
constexpr int kFormat = 1;

/* Bounds on stored parameters: a damaged or hostile repo.key must not make us allocate gigabytes. */
constexpr uint64_t kMinN = uint64_t{1} << 10;
constexpr uint64_t kMaxN = uint64_t{1} << 22;
constexpr uint32_t kMaxR = 32;
constexpr uint32_t kMaxP = 16;
constexpr uint64_t kMaxScryptMemory = uint64_t{1} << 30;

std::string Hex(const uint8_t *data, size_t size) {
    static const char kDigits[] = "0123456789abcdef";
    std::string hex;
    for (size_t i = 0; i < size; i++) {
        hex.push_back(kDigits[data[i] >> 4]);
        hex.push_back(kDigits[data[i] & 0xf]);
    }
    return hex;
}

bool FromHex(const std::string &hex, std::vector<uint8_t> *out) {
    if (hex.size() % 2 != 0) return false;
    out->clear();
    for (size_t i = 0; i < hex.size(); i += 2) {
        int value = 0;
        for (size_t j = i; j < i + 2; j++) {
            char c = hex[j];
            int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (digit < 0) return false;
            value = value * 16 + digit;
        }
        out->push_back(static_cast<uint8_t>(value));
    }
    return true;
}

bool ValidParams(const KdfParams &params) {
    return params.n >= kMinN && params.n <= kMaxN && (params.n & (params.n - 1)) == 0 &&
           params.r >= 1 && params.r <= kMaxR && params.p >= 1 && params.p <= kMaxP;
}

/* What the seal authenticates besides the key: a changed parameter fails like a wrong passphrase. */
std::string SealData(const KdfParams &params) {
    return fmt::format("pg_ark repo.key format {} aes-256-gcm scrypt n={} r={} p={}", kFormat,
                       params.n, params.r, params.p);
}

Result<SecretKey> DeriveFromPassphrase(const std::string &passphrase, const uint8_t *salt,
                                       const KdfParams &params) {
    SecretKey derived;
    if (EVP_PBE_scrypt(passphrase.data(), passphrase.size(), salt, kSaltSize, params.n, params.r,
                       params.p, kMaxScryptMemory, derived.data(), kAesKeySize) != 1)
        return Status(ErrorKind::internal,
                      fmt::format("could not derive a key from repo-cipher-pass (OpenSSL scrypt "
                                  "failed with N={}, r={}, p={})",
                                  params.n, params.r, params.p));
    return derived;
}

Result<RepoPath> KeyPath() { return RepoPath::Make(kRepositoryKeyName); }

std::string Where(Storage &raw) { return fmt::format("{}/{}", raw.Describe(), kRepositoryKeyName); }

}  // namespace

Result<std::string> WrapRepositoryKey(const SecretKey &key, const std::string &passphrase,
                                      const KdfParams &params) {
    if (!ValidParams(params))
        return Status(ErrorKind::invalid_argument, "scrypt parameters out of range");
    uint8_t salt[kSaltSize];
    uint8_t nonce[kGcmNonceSize];
    PG_ARK_RETURN_IF_ERROR(RandomBytes(salt, sizeof salt));
    PG_ARK_RETURN_IF_ERROR(RandomBytes(nonce, sizeof nonce));
    auto wrapping = DeriveFromPassphrase(passphrase, salt, params);
    if (!wrapping.ok()) return wrapping.status();
    std::string aad = SealData(params);
    uint8_t sealed[kAesKeySize + kGcmTagSize];
    PG_ARK_RETURN_IF_ERROR(GcmSeal(*wrapping, nonce, reinterpret_cast<const uint8_t *>(aad.data()),
                                   aad.size(), key.data(), kAesKeySize, sealed));
    nlohmann::ordered_json out = {
        {"format", kFormat},        {"cipher", "aes-256-gcm"},
        {"kdf", "scrypt"},          {"scrypt_n", params.n},
        {"scrypt_r", params.r},     {"scrypt_p", params.p},
        {"salt", Hex(salt, sizeof salt)}, {"nonce", Hex(nonce, sizeof nonce)},
        {"sealed_key", Hex(sealed, sizeof sealed)}};
    return out.dump(1) + "\n";
}

Result<SecretKey> UnwrapRepositoryKey(const std::string &text, const std::string &passphrase,
                                      const std::string &where) {
    auto malformed = [&where](const std::string &why) {
        return Status(ErrorKind::corrupt,
                      fmt::format("repository key \"{}\" is damaged: {}", where, why));
    };
    nlohmann::json in = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!in.is_object()) return malformed("not a JSON object");
    auto field = [&in](const char *name) -> const nlohmann::json * {
        auto found = in.find(name);
        return found == in.end() ? nullptr : &*found;
    };
    const nlohmann::json *format = field("format"), *cipher = field("cipher"), *kdf = field("kdf");
    if (format == nullptr || !format->is_number_unsigned() || format->get<uint64_t>() != kFormat)
        return malformed("unknown format (this pg_ark reads format 1)");
    if (cipher == nullptr || *cipher != "aes-256-gcm" || kdf == nullptr || *kdf != "scrypt")
        return malformed("unknown cipher or key derivation");
    KdfParams params;
    const nlohmann::json *n = field("scrypt_n"), *r = field("scrypt_r"), *p = field("scrypt_p");
    if (n == nullptr || r == nullptr || p == nullptr || !n->is_number_unsigned() ||
        !r->is_number_unsigned() || !p->is_number_unsigned())
        return malformed("missing scrypt parameters");
    params.n = n->get<uint64_t>();
    if (r->get<uint64_t>() > kMaxR || p->get<uint64_t>() > kMaxP) return malformed("scrypt parameters out of range");
    params.r = static_cast<uint32_t>(r->get<uint64_t>());
    params.p = static_cast<uint32_t>(p->get<uint64_t>());
    if (!ValidParams(params)) return malformed("scrypt parameters out of range");
    std::vector<uint8_t> salt, nonce, sealed;
    const nlohmann::json *salt_field = field("salt"), *nonce_field = field("nonce"),
                         *sealed_field = field("sealed_key");
    if (salt_field == nullptr || nonce_field == nullptr || sealed_field == nullptr ||
        !salt_field->is_string() || !nonce_field->is_string() || !sealed_field->is_string() ||
        !FromHex(salt_field->get<std::string>(), &salt) || salt.size() != kSaltSize ||
        !FromHex(nonce_field->get<std::string>(), &nonce) || nonce.size() != kGcmNonceSize ||
        !FromHex(sealed_field->get<std::string>(), &sealed) ||
        sealed.size() != kAesKeySize + kGcmTagSize)
        return malformed("missing or malformed salt, nonce or sealed key");

    auto wrapping = DeriveFromPassphrase(passphrase, salt.data(), params);
    if (!wrapping.ok()) return wrapping.status();
    std::string aad = SealData(params);
    SecretKey key;
    if (!GcmOpen(*wrapping, nonce.data(), reinterpret_cast<const uint8_t *>(aad.data()), aad.size(),
                 sealed.data(), sealed.size(), key.data()))
        return Status(ErrorKind::invalid_argument,
                      fmt::format("repo-cipher-pass does not open the repository key in \"{}\": "
                                  "wrong passphrase? (or the key file was altered)",
                                  where));
    return key;
}

Result<SecretKey> LoadRepositoryKey(Storage &raw, const std::string &passphrase) {
    auto path = KeyPath();
    if (!path.ok()) return path.status();
    auto text = ReadAll(raw, *path);
    if (!text.ok()) {
        /* Never not_found: archive-get would report a WAL file "not archived" and end recovery. */
        if (text.status().kind() == ErrorKind::not_found)
            return Status(ErrorKind::not_initialized,
                          fmt::format("repository \"{}\" has no repository key (\"{}\"): run "
                                      "pg_ark init with repo-cipher-type = aes-256-gcm to create "
                                      "an encrypted repository",
                                      raw.Describe(), Where(raw)));
        return text.status();
    }
    return UnwrapRepositoryKey(*text, passphrase, Where(raw));
}

Result<bool> EnsureRepositoryKey(Storage &raw, const std::vector<std::string> &top_level,
                                 const std::string &passphrase, const KdfParams &params) {
    auto path = KeyPath();
    if (!path.ok()) return path.status();
    auto info = raw.Info(*path);
    if (!info.ok()) return info.status();
    if (info->exists) {
        auto key = LoadRepositoryKey(raw, passphrase);
        if (!key.ok()) return key.status();
        return false;
    }
    for (const std::string &name : top_level) {
        auto directory = RepoPath::Make(name);
        if (!directory.ok()) return directory.status();
        auto names = raw.List(*directory);
        if (!names.ok()) return names.status();
        if (!names->empty())
            return Status(ErrorKind::conflict,
                          fmt::format("repository \"{}\" already holds unencrypted data (\"{}/{}\") "
                                      "and no repository key: encryption is chosen when a "
                                      "repository is created; use a new, empty repo-path for an "
                                      "encrypted repository",
                                      raw.Describe(), raw.Describe(), name));
    }
    SecretKey key;
    PG_ARK_RETURN_IF_ERROR(RandomBytes(key.data(), kAesKeySize));
    auto text = WrapRepositoryKey(key, passphrase, params);
    if (!text.ok()) return text.status();
    Status written = WriteAll(raw, *path, *text, WriteMode::create_new);
    if (written.kind() == ErrorKind::conflict) {
        /* Another init won the race: use its key, if this passphrase opens it. */
        auto theirs = LoadRepositoryKey(raw, passphrase);
        if (!theirs.ok()) return theirs.status();
        return false;
    }
    PG_ARK_RETURN_IF_ERROR(written);
    return true;
}

Status ChangeRepositoryPassphrase(Storage &raw, const std::string &old_passphrase,
                                  const std::string &new_passphrase, const KdfParams &params) {
    auto key = LoadRepositoryKey(raw, old_passphrase);
    if (!key.ok()) return key.status();
    auto text = WrapRepositoryKey(*key, new_passphrase, params);
    if (!text.ok()) return text.status();
    auto path = KeyPath();
    if (!path.ok()) return path.status();
    PG_ARK_RETURN_IF_ERROR(WriteAll(raw, *path, *text, WriteMode::replace));
    /* Read back what was committed: the old passphrase is useless from here on. */
    auto reread = LoadRepositoryKey(raw, new_passphrase);
    if (!reread.ok()) return reread.status();
    if (memcmp(reread->data(), key->data(), kAesKeySize) != 0)
        return Status(ErrorKind::corrupt, fmt::format("repository key \"{}\" read back differs from "
                                                      "the one written", Where(raw)));
    return Status::Ok();
}

}  // namespace pg_ark
