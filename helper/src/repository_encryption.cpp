/*
 * repository_encryption.cpp
 *     See repository_encryption.h.
 */
#include "repository_encryption.h"

#include <fmt/format.h>

#include "encrypted_storage.h"

namespace pg_ark {

Result<std::unique_ptr<Storage>> WrapRepositoryEncryption(std::unique_ptr<Storage> raw,
                                                          const Config &config) {
    auto path = RepoPath::Make(kRepositoryKeyName);
    if (!path.ok()) return path.status();
    auto info = raw->Info(*path);
    if (!info.ok()) return info.status();
    if (config.cipher_type == CipherType::none) {
        if (info->exists)
            return Status(ErrorKind::invalid_argument,
                          fmt::format("repository \"{}\" is encrypted (it holds {}), but "
                                      "configuration file \"{}\" sets no repo-cipher-type; set "
                                      "repo-cipher-type = aes-256-gcm and repo-cipher-pass",
                                      raw->Describe(), kRepositoryKeyName, config.path));
        return raw;
    }
    Storage *inner = raw.get(); /* owned by the encrypted storage, as is the source using it */
    std::string passphrase = config.cipher_pass;
    RepositoryKeySource source = [inner, passphrase]() { return LoadRepositoryKey(*inner, passphrase); };
    if (info->exists) {
        auto key = source();
        if (!key.ok()) return key.status();
        SecretKey opened = *key;
        source = [opened]() -> Result<SecretKey> { return opened; };
    }
    return MakeEncryptedStorage(std::move(raw), std::move(source));
}

Result<bool> InitRepositoryEncryption(Storage &raw, const Config &config, const KdfParams &params) {
    if (config.cipher_type == CipherType::none) return false;
    std::vector<std::string> clusters;
    for (const auto &[name, cluster] : config.clusters) clusters.push_back(name);
    return EnsureRepositoryKey(raw, clusters, config.cipher_pass, params);
}

}  // namespace pg_ark
