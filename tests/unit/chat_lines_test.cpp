// chat_lines.hpp: the --chat line filter.
#include <catch2/catch.hpp>
#include <string>

#include "chat_lines.hpp"

using namespace sockcat;

namespace {

// What a ChatLines labelled "<u> " relays for `pieces` fed one after the other, then finished.
std::string relayed(std::initializer_list<std::string> pieces, bool finish = true) {
  ChatLines lines("<u> ");
  std::string out;
  for (const std::string& piece : pieces) lines.feed(std::span<const char>(piece.data(), piece.size()), out);
  if (finish) lines.finish(out);
  return out;
}

}  // namespace

TEST_CASE("chat: printable text, TAB and UTF-8 pass unchanged") {
  CHECK(strip_terminal_controls("hello, world") == "hello, world");
  CHECK(strip_terminal_controls("a\tb") == "a\tb");
  CHECK(strip_terminal_controls("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(strip_terminal_controls("\xff\x80\x9b") == "\xff\x80\x9b");  // raw bytes: not UTF-8 C1 controls
  CHECK(strip_terminal_controls("") == "");
}

TEST_CASE("chat: C0 controls other than TAB, and DEL, are removed") {
  CHECK(strip_terminal_controls("a\rb\x07" "c\x08" "d\x7f" "e") == "abcde");
  CHECK(strip_terminal_controls(std::string("x\0y", 3)) == "xy");
  CHECK(strip_terminal_controls("\x01\x02\x1f") == "");
}

TEST_CASE("chat: escape sequences are removed whole") {
  CHECK(strip_terminal_controls("\x1b[31mred\x1b[0m") == "red");
  CHECK(strip_terminal_controls("\x1b[2J\x1b[1;1Hhome") == "home");
  CHECK(strip_terminal_controls("\x1b]0;evil title\x07ok") == "ok");
  CHECK(strip_terminal_controls("\x1b]8;;http://x\x1b\\link") == "link");
  CHECK(strip_terminal_controls("\x1bPqdata\x1b\\after") == "after");
  CHECK(strip_terminal_controls("\x1b" "cX") == "X");  // ESC c (reset) and one byte
  CHECK(strip_terminal_controls("end\x1b") == "end");
  CHECK(strip_terminal_controls("\x1b]unterminated") == "");
}

TEST_CASE("chat: C1 controls in UTF-8 are removed, with their sequences") {
  CHECK(strip_terminal_controls("a\xc2\x85" "b") == "ab");              // NEL
  CHECK(strip_terminal_controls("\xc2\x9b" "31mred") == "red");          // CSI
  CHECK(strip_terminal_controls("\xc2\x9d" "0;t\xc2\x9cok") == "ok");    // OSC ... ST
  CHECK(strip_terminal_controls("\xc2\xa0nbsp") == "\xc2\xa0nbsp");      // U+00A0 is not a control
}

TEST_CASE("chat: complete lines are labelled, in order") {
  CHECK(relayed({"hi\nthere\n"}) == "<u> hi\n<u> there\n");
  CHECK(relayed({"h", "i\nth", "ere\n"}) == "<u> hi\n<u> there\n");
  CHECK(relayed({"\n"}) == "<u> \n");
  CHECK(relayed({"dos line\r\n"}) == "<u> dos line\n");
  CHECK(relayed({"\x1b[31mred\x1b[0m\n"}) == "<u> red\n");
}

TEST_CASE("chat: an incomplete line waits, and is relayed at the end") {
  CHECK(relayed({"no newline yet"}, false) == "");
  CHECK(relayed({"no newline yet"}) == "<u> no newline yet\n");
  CHECK(relayed({"a\nb"}, false) == "<u> a\n");
  CHECK(relayed({}) == "");
}

TEST_CASE("chat: a line longer than the limit is relayed in pieces") {
  std::string longest(chat_line_limit, 'x');
  CHECK(relayed({longest}, false) == "<u> " + longest + "\n");
  // Its newline right after the cut does not add an empty line.
  CHECK(relayed({longest + "\nnext\n"}) == "<u> " + longest + "\n<u> next\n");
  CHECK(relayed({longest, "\n", "next\n"}) == "<u> " + longest + "\n<u> next\n");
  std::string over = longest + "yz";
  CHECK(relayed({over}) == "<u> " + longest + "\n<u> yz\n");
  std::string exact(chat_line_limit - 1, 'a');
  CHECK(relayed({exact + "\n"}) == "<u> " + exact + "\n");
  // Bounded: a megabyte without a newline comes out in limit-sized lines.
  std::string flood(1 << 20, 'f');
  std::string out = relayed({flood}, false);
  CHECK(out.size() == (1 << 20) / chat_line_limit * (chat_line_limit + 5));
}
