// The taps' formats: -o's labelled records, -x's labelled lines, and what a server's tap
// writes for each client (and a one-connection tap writes raw).
#include <catch2/catch.hpp>

#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include "hex_dump.hpp"
#include "relay_tap.hpp"

using namespace sockcat;

namespace {

std::string record(std::string_view label, Direction direction, const std::string& bytes) {
  std::string out;
  format_record(label, direction, std::span<const char>(bytes.data(), bytes.size()), out);
  return out;
}

std::span<const char> span_of(const std::string& text) { return {text.data(), text.size()}; }

// A file name in the temporary directory, removed when the test ends.
struct TempFile {
  TempFile() {
    char name[] = "/tmp/sockcat_tap_XXXXXX";
    int fd = ::mkstemp(name);
    REQUIRE(fd != -1);
    ::close(fd);
    path = name;
  }
  ~TempFile() { std::remove(path.c_str()); }
  std::string contents() const {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }
  std::string path;
};

}  // namespace

TEST_CASE("relay tap: an -o record: a header with label, direction and count, the bytes, a newline if missing") {
  CHECK(record("#1 127.0.0.1:5555", Direction::received, "hello\n") == "[#1 127.0.0.1:5555 < 6]\nhello\n");
  CHECK(record("#2 [::1]:80", Direction::sent, "no end") == "[#2 [::1]:80 > 6]\nno end\n");
  std::string binary("\0\n\xff", 3);
  CHECK(record("#3 unnamed socket", Direction::sent, binary) == "[#3 unnamed socket > 3]\n" + binary + "\n");
  CHECK(record("#1 h:1", Direction::received, "two\n\n") == "[#1 h:1 < 5]\ntwo\n\n");  // ends with LF: nothing added
}

TEST_CASE("hex dump: a label starts every line, and each dump keeps its own offsets") {
  HexDump first;
  HexDump second;
  std::string out;
  std::string chunk(20, 'a');
  first.format(Direction::received, span_of(chunk), out, "#1 127.0.0.1:5555");
  second.format(Direction::received, span_of("b"), out, "#2 127.0.0.1:6666");
  first.format(Direction::received, span_of("c"), out, "#1 127.0.0.1:5555");
  std::istringstream lines(out);
  std::string line;
  std::vector<std::string> heads;
  while (std::getline(lines, line)) heads.push_back(line.substr(0, line.find("  ")));
  CHECK(heads == std::vector<std::string>{"#1 127.0.0.1:5555 < 00000000", "#1 127.0.0.1:5555 < 00000010",
                                          "#2 127.0.0.1:6666 < 00000000", "#1 127.0.0.1:5555 < 00000014"});
}

TEST_CASE("server tap: each client is numbered and named in -o and -x; totals add up") {
  TempFile raw;
  TempFile dump;
  Options options;
  options.output_file = raw.path;
  options.hex_dump_file = dump.path;
  {
    std::shared_ptr<ServerTap> server = ServerTap::open(options, true);
    CHECK(server->sees_bytes());
    std::unique_ptr<RelayTap> a = client_tap(server.get(), "127.0.0.1:5555");
    std::unique_ptr<RelayTap> b = client_tap(server.get(), "[::1]:6666");
    a->crossed(Direction::received, span_of("hi\n"));
    b->crossed(Direction::sent, span_of("x"));
    a->crossed(Direction::sent, span_of("HI\n"));
    CHECK(a->bytes(Direction::received) == 3);
    CHECK(a->bytes(Direction::sent) == 3);
    CHECK(b->bytes(Direction::sent) == 1);
  }
  CHECK(raw.contents() == "[#1 127.0.0.1:5555 < 3]\nhi\n[#2 [::1]:6666 > 1]\nx\n[#1 127.0.0.1:5555 > 3]\nHI\n");
  std::string text = dump.contents();
  CHECK(text.rfind("#1 127.0.0.1:5555 < 00000000  68 69 0a ", 0) == 0);
  CHECK(text.find("\n#2 [::1]:6666 > 00000000  78 ") != std::string::npos);
  CHECK(text.find("\n#1 127.0.0.1:5555 > 00000000  48 49 0a ") != std::string::npos);
}

TEST_CASE("one-connection tap: -o holds the raw bytes; no tap without logging") {
  TempFile raw;
  Options options;
  options.output_file = raw.path;
  {
    RelayTap tap(options);
    tap.crossed(Direction::sent, span_of("out"));
    tap.crossed(Direction::received, span_of("in"));
  }
  CHECK(raw.contents() == "outin");
  CHECK(client_tap(nullptr, "127.0.0.1:1") == nullptr);
  CHECK_FALSE(ServerTap::wanted(Options{}));
}

TEST_CASE("a tap logs the bytes of a file sent unseen by reading them back") {
  TempFile raw;
  TempFile source;
  { std::ofstream(source.path, std::ios::binary) << "0123456789"; }
  Options options;
  options.output_file = raw.path;
  int fd = ::open(source.path.c_str(), O_RDONLY);
  REQUIRE(fd != -1);
  {
    RelayTap tap(options);
    tap.sent_from_file(fd, 2, 5);
    CHECK(tap.bytes(Direction::sent) == 5);
  }
  ::close(fd);
  CHECK(raw.contents() == "23456");
}
