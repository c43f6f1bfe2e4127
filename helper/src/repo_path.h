/*
 * repo_path.h
 *     A relative path inside a repository, valid by construction.
 *
 * The only way to make one is RepoPath::Make (or Join on a valid one), which rejects empty
 * components, ".", "..", absolute paths, NUL bytes and backslashes. So "nothing is written
 * outside the repository" is a property of the type, whatever a manifest or a socket says.
 */
#ifndef PG_ARK_HELPER_REPO_PATH_H
#define PG_ARK_HELPER_REPO_PATH_H

#include <string>

#include "status.h"

namespace pg_ark {

class RepoPath {
  public:
    static Result<RepoPath> Make(const std::string &text);
    /* Appends validated components ("a/b" allowed). */
    Result<RepoPath> Join(const std::string &relative) const;

    const std::string &str() const { return text_; }
    /* Everything before the last '/', or "" for a top-level name. */
    std::string Parent() const;
    /* The last component. */
    std::string Name() const;

  private:
    explicit RepoPath(std::string text) : text_(std::move(text)) {}
    std::string text_;
};

}  // namespace pg_ark

#endif
