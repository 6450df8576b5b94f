#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "http/dashboard/assets.hpp"
#include "http/dashboard/embedded_files.hpp"

namespace nebula::http::dashboard {
namespace {

TEST(DashboardAssets, RootServesTheIndexPage) {
  const Asset* root = find_asset("/");
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->content_type, "text/html; charset=utf-8");
  EXPECT_TRUE(root->body.starts_with("<!doctype html>"));
  EXPECT_EQ(root, find_asset("/index.html"));
}

TEST(DashboardAssets, ScriptsAndStylesHaveTheirTypes) {
  const Asset* script = find_asset("/app.js");
  ASSERT_NE(script, nullptr);
  EXPECT_EQ(script->content_type, "text/javascript; charset=utf-8");
  const Asset* style = find_asset("/style.css");
  ASSERT_NE(style, nullptr);
  EXPECT_EQ(style->content_type, "text/css; charset=utf-8");
}

TEST(DashboardAssets, UnknownOrRelativePathsAreNotFound) {
  EXPECT_EQ(find_asset(""), nullptr);
  EXPECT_EQ(find_asset("index.html"), nullptr);
  EXPECT_EQ(find_asset("/nope.js"), nullptr);
  EXPECT_EQ(find_asset("/../index.html"), nullptr);
  EXPECT_EQ(find_asset("//index.html"), nullptr);
  EXPECT_EQ(find_asset("/index.html?x=1"), nullptr);  // the caller strips the query
}

// The generated arrays must reproduce every byte: the length is the file's
// size (the trailing NUL that keeps empty arrays legal is not part of it).
TEST(DashboardAssets, BodiesAreCompleteAndTextIsNotTruncated) {
  for (const EmbeddedFile& file : embedded_files()) {
    SCOPED_TRACE(std::string(file.name));
    EXPECT_FALSE(file.asset.body.empty());
    EXPECT_EQ(file.asset.body.find('\0'), std::string_view::npos);
  }
  const Asset* root = find_asset("/");
  ASSERT_NE(root, nullptr);
  EXPECT_TRUE(root->body.ends_with("</html>\n"));
}

TEST(DashboardAssets, EtagsAreQuotedAndDistinct) {
  std::set<std::string_view> tags;
  for (const EmbeddedFile& file : embedded_files()) {
    SCOPED_TRACE(std::string(file.name));
    const std::string_view etag = file.asset.etag;
    ASSERT_GE(etag.size(), 3U);
    EXPECT_EQ(etag.front(), '"');
    EXPECT_EQ(etag.back(), '"');
    EXPECT_TRUE(tags.insert(etag).second);
  }
}

// Every "http://" or "https://" in a body, except XML namespace names
// (http://www.w3.org/…), which are identifiers and never fetched.
std::vector<std::string_view> absolute_urls(std::string_view body) {
  std::vector<std::string_view> urls;
  for (const std::string_view scheme : {"http://", "https://"}) {
    for (std::size_t at = body.find(scheme); at != std::string_view::npos;
         at = body.find(scheme, at + 1)) {
      const std::string_view url = body.substr(at, 40);
      if (!url.substr(scheme.size()).starts_with("www.w3.org/")) urls.push_back(url);
    }
  }
  return urls;
}

// The page must work offline and under a strict Content-Security-Policy:
// nothing is loaded from another origin and there is no inline script.
TEST(DashboardAssets, PageLoadsNothingFromOtherOrigins) {
  for (const EmbeddedFile& file : embedded_files()) {
    SCOPED_TRACE(std::string(file.name));
    for (const std::string_view url : absolute_urls(file.asset.body)) {
      ADD_FAILURE() << "absolute URL: " << url;
    }
  }
  const Asset* root = find_asset("/");
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->body.find("<script>"), std::string_view::npos);
  EXPECT_EQ(root->body.find(" style=\""), std::string_view::npos);
}

}  // namespace
}  // namespace nebula::http::dashboard
