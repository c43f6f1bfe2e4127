/*
 * repo_path.cpp
 *     Validation of repository-relative paths. See repo_path.h.
 */
#include "repo_path.h"

namespace pg_ark {

namespace {

bool ValidComponent(const std::string &component) {
    return !component.empty() && component != "." && component != "..";
}

Status Invalid(const std::string &text, const char *why) {
    return Status(ErrorKind::invalid_argument, "invalid repository path \"" + text + "\": " + why);
}

}  // namespace

Result<RepoPath> RepoPath::Make(const std::string &text) {
    if (text.empty()) return Invalid(text, "empty");
    if (text.front() == '/') return Invalid(text, "absolute");
    if (text.find('\0') != std::string::npos) return Invalid(text, "contains a NUL byte");
    if (text.find('\\') != std::string::npos) return Invalid(text, "contains a backslash");
    size_t start = 0;
    while (true) {
        size_t slash = text.find('/', start);
        std::string component = text.substr(start, slash == std::string::npos ? slash : slash - start);
        if (!ValidComponent(component)) return Invalid(text, "empty, \".\" or \"..\" component");
        if (slash == std::string::npos) break;
        start = slash + 1;
    }
    return RepoPath(text);
}

Result<RepoPath> RepoPath::Join(const std::string &relative) const {
    return Make(text_ + "/" + relative);
}

std::string RepoPath::Parent() const {
    size_t slash = text_.rfind('/');
    return slash == std::string::npos ? std::string() : text_.substr(0, slash);
}

std::string RepoPath::Name() const {
    size_t slash = text_.rfind('/');
    return slash == std::string::npos ? text_ : text_.substr(slash + 1);
}

}  // namespace pg_ark
