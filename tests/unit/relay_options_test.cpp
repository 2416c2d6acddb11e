// The relay's connection options: the pure parts (-C's converter, -d's line splitting, -x's
// hex dump, the --stats and --progress texts) and their command-line rules in src/cli/.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "cli.hpp"
#include "cli_checks.hpp"
#include "exit_status.hpp"
#include "hex_dump.hpp"
#include "line_shaping.hpp"
#include "progress.hpp"
#include "relay_tap.hpp"

using namespace sockcat;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;

using namespace sockcat::test;

namespace {

// Converts `chunks` one after another with one converter; returns the whole output.
std::string crlf_of(const std::vector<std::string>& chunks) {
  CrlfConverter converter;
  std::string out;
  for (const std::string& chunk : chunks) {
    std::string converted(2 * chunk.size(), '\0');
    converted.resize(converter.convert(chunk, converted.data()));
    out += converted;
  }
  return out;
}

// Every way of cutting `text` into two chunks gives the same conversion as one chunk.
void check_every_cut(const std::string& text, const std::string& want) {
  CHECK(crlf_of({text}) == want);
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    INFO("cut at " << cut);
    CHECK(crlf_of({text.substr(0, cut), text.substr(cut)}) == want);
  }
}

std::string dump(HexDump& hex, Direction direction, const std::string& chunk) {
  std::string out;
  hex.format(direction, chunk, out);
  return out;
}

}  // namespace

TEST_CASE("crlf: LF becomes CRLF, an existing CRLF and a lone CR stay") {
  check_every_cut("a\nb\n", "a\r\nb\r\n");
  check_every_cut("a\r\nb\n", "a\r\nb\r\n");
  check_every_cut("\n\n", "\r\n\r\n");
  check_every_cut("\r\r\n\n", "\r\r\n\r\n");
  check_every_cut("a\rb\n", "a\rb\r\n");
  check_every_cut("no newline", "no newline");
  check_every_cut("", "");
}

TEST_CASE("crlf: a CR at the end of one chunk pairs with an LF at the start of the next") {
  CHECK(crlf_of({"x\r", "\ny"}) == "x\r\ny");
  CHECK(crlf_of({"x\r", "", "\ny"}) == "x\r\ny");  // an empty chunk in between changes nothing
  CHECK(crlf_of({"x\r", "a", "\ny"}) == "x\ra\r\ny");
  CHECK(crlf_of({"\r", "\n", "\n"}) == "\r\n\r\n");
}

TEST_CASE("crlf: binary bytes pass unchanged and the output never exceeds twice the input") {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  std::string want;
  for (char c : all) {
    if (c == '\n' && (want.empty() || want.back() != '\r')) want += '\r';
    want += c;
  }
  check_every_cut(all, want);
  std::string lfs(1000, '\n');
  CHECK(crlf_of({lfs}).size() == 2000);
}

TEST_CASE("line shaping: first_line_length includes the LF, or takes everything") {
  CHECK(first_line_length(std::string_view("ab\ncd\n")) == 3);
  CHECK(first_line_length(std::string_view("\n")) == 1);
  CHECK(first_line_length(std::string_view("abc")) == 3);
  CHECK(first_line_length(std::string_view("")) == 0);
}

TEST_CASE("hex dump: one line per 16 bytes, marked by direction, hex and printable columns") {
  HexDump hex;
  CHECK(dump(hex, Direction::sent, "hello\n") ==
        "> 00000000  68 65 6c 6c 6f 0a                                 |hello.|\n");
  CHECK(dump(hex, Direction::received, std::string("0123456789abcdef\x01\xff", 18)) ==
        "< 00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n"
        "< 00000010  01 ff                                             |..|\n");
  CHECK(dump(hex, Direction::sent, "") == "");
}

TEST_CASE("hex dump: offsets run on per direction across chunks; each chunk starts a record") {
  HexDump hex;
  dump(hex, Direction::sent, std::string(20, 'a'));
  dump(hex, Direction::received, "xyz");
  std::string next = dump(hex, Direction::sent, "bc");
  CHECK(next == "> 00000014  62 63                                             |bc|\n");
  CHECK(dump(hex, Direction::received, "!") ==
        "< 00000003  21                                                |!|\n");
}

TEST_CASE("hex dump: every line has the same width up to the ASCII column") {
  HexDump hex;
  std::string out = dump(hex, Direction::sent, std::string(37, 'z'));
  std::size_t start = 0;
  int lines = 0;
  while (start < out.size()) {
    std::size_t end = out.find('\n', start);
    CHECK(out.find('|', start) - start == 62);
    start = end + 1;
    ++lines;
  }
  CHECK(lines == 3);
}

TEST_CASE("stats: the line names both counts, the duration and a rate") {
  CHECK(format_stats(1048576, 0, 500ms) == "sent 1048576 bytes, received 0 bytes in 0.500 s (2.0 MiB/s)");
  CHECK(format_stats(0, 0, {}) == "sent 0 bytes, received 0 bytes in 0.000 s");
}

TEST_CASE("bytes for people") {
  CHECK(format_bytes(0) == "0 B");
  CHECK(format_bytes(1023) == "1023 B");
  CHECK(format_bytes(1536) == "1.5 KiB");
  CHECK(format_bytes(3.0 * 1024 * 1024 * 1024) == "3.0 GiB");
}

TEST_CASE("progress: percent and ETA only when the total is known") {
  ProgressSnapshot snapshot;
  snapshot.sent = 10 * 1024 * 1024;
  snapshot.received = 512;
  snapshot.rate = 2 * 1024 * 1024;
  CHECK(format_progress(snapshot) == "sent 10.0 MiB, received 512 B, 2.0 MiB/s");
  snapshot.total_to_send = 40 * 1024 * 1024;
  snapshot.send_rate = 1024 * 1024;
  CHECK(format_progress(snapshot) == "sent 10.0 MiB of 40.0 MiB (25%, ETA 0:30), received 512 B, 2.0 MiB/s");
  snapshot.sent = 40 * 1024 * 1024;
  CHECK(format_progress(snapshot) == "sent 40.0 MiB of 40.0 MiB (100%), received 512 B, 2.0 MiB/s");
  snapshot.sent = 0;
  snapshot.total_to_send = std::uint64_t{4} * 1024 * 1024 * 3600;
  CHECK_THAT(format_progress(snapshot), Contains("(0%, ETA 4:00:00)"));
}

TEST_CASE("cli: the relay options fill Options") {
  Options options = accepted({"connect", "-C", "-d", "250ms", "-o", "out.bin", "-x", "dump.txt", "--append-output",
                              "--progress", "--stats", "127.0.0.1", "80"});
  CHECK(options.crlf);
  CHECK(options.line_delay == 250ms);
  CHECK(options.output_file == "out.bin");
  CHECK(options.hex_dump_file == "dump.txt");
  CHECK(options.append_output);
  CHECK(options.progress);
  CHECK(options.stats);
  CHECK(accepted({"connect", "--send-only", "127.0.0.1", "80"}).send_only);
  CHECK(accepted({"connect", "--recv-only", "127.0.0.1", "80"}).recv_only);
  CHECK(accepted({"listen", "--stats", "-o", "f", "0"}).stats);
  CHECK(accepted({"connect", "-u", "-C", "--stats", "127.0.0.1", "80"}).crlf);
  CHECK(accepted({"connect", "-u", "--recv-only", "-q", "2s", "127.0.0.1", "80"}).recv_only);  // -q: the linger
  Options plain = accepted({"connect", "127.0.0.1", "80"});
  CHECK_FALSE(plain.crlf);
  CHECK(plain.line_delay == 0ms);
  CHECK(plain.output_file.empty());
  CHECK_FALSE(plain.stats);
}

TEST_CASE("cli: relay options where there is no relay are usage errors") {
  CHECK_THAT(rejected({"listen", "-k", "-C", "0"}), Contains("-k"));
  CHECK_THAT(rejected({"connect", "-z", "--stats", "127.0.0.1", "80"}), Contains("-z"));
  CHECK_THAT(rejected({"connect", "-z", "-x", "f", "127.0.0.1", "80"}), Contains("-x") && Contains("-z"));
  CHECK_THAT(rejected({"connect", "--framing", "line", "-C", "127.0.0.1", "80"}), Contains("--framing raw"));
}

TEST_CASE("cli: -o, -x and --stats apply in every mode that relays bytes") {
  const std::vector<std::vector<std::string>> modes = {
      {"listen", "-k"},
      {"listen", "--transform", "upper"},
      {"listen", "--transform", "echo", "--framing", "line"},
      {"listen", "--broker"},
      {"listen", "--chat"},
      {"listen", "--send-file", "/etc/hostname"},
      {"listen", "-k", "--send-file", "/etc/hostname"},
      {"listen", "-e", "cat"},
      {"listen", "-k", "-c", "cat"},
      {"listen", "-u"},
      {"listen", "-u", "--transform", "upper"},
      {"connect", "-e", "cat", "127.0.0.1"},
      {"connect", "--framing", "line", "127.0.0.1"},
  };
  for (const auto& mode : modes) {
    for (const std::vector<std::string>& logging :
         {std::vector<std::string>{"-o", "f"}, {"-x", "f", "--append-output"}, {"--stats"}}) {
      std::vector<std::string> argv = mode;
      argv.insert(argv.end(), logging.begin(), logging.end());
      argv.push_back("80");
      INFO(argv.front() + " " + argv[1] + " " + logging.front());
      Options options = accepted(argv);
      CHECK((!options.output_file.empty() || !options.hex_dump_file.empty() || options.stats));
    }
  }
}

TEST_CASE("cli: --progress follows one relay only") {
  CHECK(accepted({"listen", "--progress", "80"}).progress);
  CHECK(accepted({"connect", "-u", "--progress", "h", "80"}).progress);
  for (std::vector<std::string> argv : {std::vector<std::string>{"listen", "-k"}, {"listen", "--transform", "upper"},
                                        {"listen", "-u"}, {"listen", "--broker"}, {"listen", "-e", "cat"},
                                        {"listen", "--send-file", "/etc/hostname"}, {"connect", "-e", "cat", "h"}}) {
    argv.insert(argv.end(), {"--progress", "80"});
    CHECK_THAT(rejected(argv), Contains("--progress applies to a relay of one connection"));
  }
}

TEST_CASE("cli: relay options that contradict each other are usage errors") {
  CHECK_THAT(rejected({"connect", "--send-only", "--recv-only", "127.0.0.1", "80"}), Contains("exclude"));
  CHECK_THAT(rejected({"connect", "--recv-only", "-C", "127.0.0.1", "80"}), Contains("--recv-only"));
  CHECK_THAT(rejected({"connect", "--recv-only", "-d", "1s", "127.0.0.1", "80"}), Contains("--recv-only"));
  CHECK_THAT(rejected({"connect", "--recv-only", "-q", "1s", "127.0.0.1", "80"}), Contains("-q"));
  CHECK_THAT(rejected({"connect", "--send-only", "-q", "1s", "127.0.0.1", "80"}), Contains("-q"));
  CHECK_THAT(rejected({"connect", "--append-output", "127.0.0.1", "80"}), Contains("-o or -x"));
  CHECK_THAT(rejected({"connect", "-d", "0", "127.0.0.1", "80"}), Contains("above zero"));
  CHECK_THAT(rejected({"connect", "-d", "soon", "127.0.0.1", "80"}), Contains("soon"));
  CHECK_THAT(rejected({"connect", "-o", "", "127.0.0.1", "80"}), Contains("empty"));
  CHECK_THAT(rejected({"connect", "-o", "a", "-o", "b", "127.0.0.1", "80"}), Contains("more than once"));
}
