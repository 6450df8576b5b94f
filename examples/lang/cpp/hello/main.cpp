// A Nebula function: the request body arrives on stdin, the answer goes to
// stdout, logs to stderr. Exit 0 on success, 1 when the function cannot do
// its job, 2 for bad input (with what to send instead on stderr); any
// non-zero exit makes the invocation fail with the stderr tail in the
// error.
#include <cstdio>
#include <string>
#include <string_view>

namespace {

constexpr std::size_t kMaxName = 100;

std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  const auto begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

}  // namespace

int main() {
  std::string input;
  char chunk[4096];
  std::size_t n = 0;
  while ((n = std::fread(chunk, 1, sizeof chunk, stdin)) > 0 && input.size() <= kMaxName + 64) {
    input.append(chunk, n);
  }
  const std::string_view name = trim(input);
  if (name.size() > kMaxName) {
    std::fprintf(stderr, "hello: the name is longer than %zu bytes; send a short name, e.g. \"Ada\"\n",
                 kMaxName);
    return 2;
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      std::fputs("hello: the name contains a control character; send one line of text, e.g. \"Ada\"\n",
                 stderr);
      return 2;
    }
  }
  const std::string_view shown = name.empty() ? std::string_view("World") : name;
  std::fprintf(stderr, "hello: greeting %.*s\n", static_cast<int>(shown.size()), shown.data());
  std::printf("Hello, %.*s!\n", static_cast<int>(shown.size()), shown.data());
  return std::fflush(stdout) == 0 ? 0 : 1;
}
