/*
 * cli_repo_key.cpp
 *     See cli_repo_key.h. The new passphrase is read from a private file: the first line,
 *     without its line ending.
 */
#include "cli_repo_key.h"

#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>

#include "aes_gcm.h"
#include "cli_common.h"
#include "repo_key.h"
#include "storage_factory.h"
#include "unique_fd.h"

namespace pg_ark {

namespace {

Result<std::string> ReadPassFile(const std::string &path) {
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid())
        return Status(ErrorKind::invalid_argument,
                      fmt::format("could not open passphrase file \"{}\": {}", path, strerror(errno)));
    struct stat st;
    if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
        return Status(ErrorKind::invalid_argument,
                      fmt::format("passphrase file \"{}\" is not a regular file", path));
    if ((st.st_mode & 0077) != 0)
        return Status(ErrorKind::invalid_argument,
                      fmt::format("passphrase file \"{}\" must not be accessible to other users "
                                  "(mode {:04o} found); run: chmod 600 {}",
                                  path, st.st_mode & 07777, path));
    std::string text;
    char buffer[4096];
    for (;;) {
        ssize_t n = read(fd.get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0)
            return Status(ErrorKind::invalid_argument,
                          fmt::format("could not read passphrase file \"{}\": {}", path, strerror(errno)));
        if (n == 0) break;
        text.append(buffer, static_cast<size_t>(n));
        if (text.size() > 65536)
            return Status(ErrorKind::invalid_argument,
                          fmt::format("passphrase file \"{}\" is too large", path));
    }
    std::string passphrase = text.substr(0, text.find('\n'));
    WipeString(&text);
    if (!passphrase.empty() && passphrase.back() == '\r') passphrase.pop_back();
    if (passphrase.empty())
        return Status(ErrorKind::invalid_argument,
                      fmt::format("passphrase file \"{}\" holds no passphrase on its first line", path));
    return passphrase;
}

}  // namespace

int RunRepoKeyChange(const std::string &config_path, const std::string &new_pass_file) {
    Status refused = RefuseRoot("repo-key change");
    if (!refused.ok()) return Fail(refused);
    auto config = LoadAndApply(config_path);
    if (!config.ok()) return Fail(config.status());
    if (config->cipher_type == CipherType::none)
        return Fail(Status(ErrorKind::invalid_argument,
                           fmt::format("configuration file \"{}\" sets no repo-cipher-type: the "
                                       "repository is not encrypted, it has no passphrase to change",
                                       config_path)));
    auto passphrase = ReadPassFile(new_pass_file);
    if (!passphrase.ok()) return Fail(passphrase.status());
    auto raw = OpenRawRepositoryStorage(*config);
    if (!raw.ok()) return Fail(raw.status());
    Status changed = ChangeRepositoryPassphrase(**raw, config->cipher_pass, *passphrase);
    WipeString(&*passphrase);
    if (!changed.ok()) return Fail(changed);
    std::cout << fmt::format("the repository key \"{}/{}\" is now sealed by the new passphrase; "
                             "the old one no longer opens it. Set repo-cipher-pass to the new "
                             "passphrase in \"{}\" (and in every other configuration using this "
                             "repository) now, then remove \"{}\"",
                             (*raw)->Describe(), kRepositoryKeyName, config_path, new_pass_file)
              << std::endl;
    return 0;
}

}  // namespace pg_ark
