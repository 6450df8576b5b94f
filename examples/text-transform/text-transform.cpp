// text-transform: byte-level text operations.
//
// Input:  the operation on the first line, the text after it:
//           upper    ASCII letters to upper case (other bytes unchanged)
//           lower    ASCII letters to lower case (other bytes unchanged)
//           reverse  each line's characters reversed, like rev(1); UTF-8
//                    sequences are kept whole, line order is kept
//           wc       "<lines> <words> <bytes>" of the text, like wc(1)
//         e.g. "upper\nhello world" gives "HELLO WORLD". A body with no
//         newline is an operation on empty text.
// Output: the transformed text (for wc, one line of counts).
// The text may hold any bytes, up to 64 MiB (the platform's max_input_bytes
// is usually far lower).
#include <cstdio>
#include <string>
#include <string_view>

#include "nebula_fn.h"

namespace {

constexpr const char* kName = "text-transform";
constexpr const char* kUsage =
    "send the operation (upper, lower, reverse or wc) on the first line and the text after it, "
    "e.g. \"upper\\nhello\"";

constexpr std::size_t kMaxInput = std::size_t{64} << 20;

// Reads all of stdin into `body`. Returns 0, or the exit code after
// reporting.
int read_all(std::string& body) {
  // Read straight into the string: a 64 KiB buffer on the stack would fill
  // the whole default wasm stack.
  constexpr std::size_t kChunk = 64 * 1024;
  for (;;) {
    std::size_t used = body.size();
    body.resize(used + kChunk);
    std::size_t n = std::fread(body.data() + used, 1, kChunk, stdin);
    body.resize(used + n);
    if (body.size() > kMaxInput) {
      return nebula_fn_bad_input(kName, kUsage, "the input is larger than %zu MiB",
                                 kMaxInput >> 20);
    }
    if (n < kChunk) break;
  }
  if (std::ferror(stdin)) return nebula_fn_fail(kName, "cannot read stdin");
  return 0;
}

// The length of the UTF-8 sequence starting at text[i]; 1 for a byte that
// does not start a well-formed sequence, so that malformed input is kept
// byte for byte instead of being mangled.
std::size_t sequence_length(std::string_view text, std::size_t i) {
  auto lead = static_cast<unsigned char>(text[i]);
  std::size_t len = lead < 0x80   ? 1
                    : lead < 0xc2 ? 0
                    : lead < 0xe0 ? 2
                    : lead < 0xf0 ? 3
                    : lead < 0xf5 ? 4
                                  : 0;
  if (len <= 1 || i + len > text.size()) return 1;
  for (std::size_t k = 1; k < len; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return 1;
  }
  return len;
}

// Appends `line` with its characters in reverse order.
void append_reversed(std::string& out, std::string_view line) {
  std::size_t end = out.size() + line.size();
  out.resize(end);
  for (std::size_t i = 0; i < line.size();) {
    std::size_t len = sequence_length(line, i);
    end -= len;
    out.replace(end, len, line.substr(i, len));
    i += len;
  }
}

std::string reverse_lines(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    append_reversed(out, line);
    if (newline == std::string_view::npos) break;
    out += '\n';
    text.remove_prefix(newline + 1);
  }
  return out;
}

std::string count(std::string_view text) {
  std::size_t lines = 0;
  std::size_t words = 0;
  bool in_word = false;
  for (char c : text) {
    if (c == '\n') ++lines;
    bool space = nebula_fn_is_space(c);
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return std::to_string(lines) + ' ' + std::to_string(words) + ' ' + std::to_string(text.size()) +
         '\n';
}

std::string change_case(std::string_view text, bool upper) {
  std::string out(text);
  for (char& c : out) {
    if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

int main() {
  std::string body;
  if (int rc = read_all(body); rc != 0) return rc;
  if (body.empty()) return nebula_fn_bad_input(kName, kUsage, "no input");

  std::string_view rest = body;
  std::size_t newline = rest.find('\n');
  std::string_view op = rest.substr(0, newline);
  rest = newline == std::string_view::npos ? std::string_view{} : rest.substr(newline + 1);
  while (!op.empty() && nebula_fn_is_space(op.back())) op.remove_suffix(1);
  while (!op.empty() && nebula_fn_is_space(op.front())) op.remove_prefix(1);

  std::string out;
  if (op == "upper") {
    out = change_case(rest, true);
  } else if (op == "lower") {
    out = change_case(rest, false);
  } else if (op == "reverse") {
    out = reverse_lines(rest);
  } else if (op == "wc") {
    out = count(rest);
  } else {
    return nebula_fn_bad_input(kName, kUsage, "unknown operation \"%s\"",
                               nebula_fn_shown(op.data(), op.size()));
  }
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
    return nebula_fn_fail(kName, "cannot write stdout");
  }
  return 0;
}
