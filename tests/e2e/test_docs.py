"""The manual and the shell completions stay in step with the binary.

The options come from `sockcat listen --help` / `sockcat connect --help` and the transforms from
`sockcat listen --list-transforms`, so adding an option or a transform to the code without
documenting it (or completing it) fails here. The completions are also run for real: bash
always, fish and zsh when they are installed."""
import gzip
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import SOCKCAT, run_sockcat

REPO = Path(__file__).resolve().parents[2]
MAN = REPO / "man" / "sockcat.1"
BASH_COMPLETION = REPO / "completions" / "sockcat.bash"
ZSH_COMPLETION = REPO / "completions" / "_sockcat"
FISH_COMPLETION = REPO / "completions" / "sockcat.fish"
SUBCOMMANDS = ("listen", "connect")

# An option spelling: -x or --long-name, not part of a longer word.
OPTION = re.compile(r"(?<![\w-])--?[A-Za-z0-9][A-Za-z0-9-]*")


def option_pattern(option):
    """Matches `option` as a whole spelling (so --source does not match --source-port)."""
    return re.compile(r"(?<![\w-])" + re.escape(option) + r"(?![\w-])")


# ---------------------------------------------------------------------------------------------
# What the binary says about itself.

def help_options(subcommand):
    """The option spellings in the first column of `sockcat SUBCOMMAND --help`."""
    result = run_sockcat(subcommand, "--help")
    assert result.returncode == 0, result.stderr
    options = set()
    for line in result.stdout.decode().splitlines():
        stripped = line.strip()
        if stripped.startswith("-"):
            column = re.split(r"\s{2,}", stripped)[0]  # "-p, --port PORT", not the help text
            options.update(OPTION.findall(column))
    return options


@pytest.fixture(scope="module")
def options():
    """{subcommand: set of option spellings}, checked to be plausible so that a change in the
    help layout cannot make every test below vacuous."""
    found = {sub: help_options(sub) for sub in SUBCOMMANDS}
    assert {"-h", "--help", "-v", "--verbose", "-u", "--udp"} <= found["listen"] & found["connect"]
    assert {"--transform", "--list-transforms", "-p", "--port"} <= found["listen"]
    assert {"-w", "--wait", "-s", "--source"} <= found["connect"]
    return found


@pytest.fixture(scope="module")
def all_options(options):
    return set().union(*options.values())


@pytest.fixture(scope="module")
def transforms():
    result = run_sockcat("listen", "--list-transforms")
    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.decode().splitlines() if line.strip()]
    assert {"none", "echo", "upper"} <= set(names)
    return names


@pytest.fixture(scope="module")
def subcommands():
    """The subcommands listed by `sockcat --help`, plus `help`."""
    result = run_sockcat("--help")
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    listed = text.split("subcommands:", 1)[1]
    names = re.findall(r"^  (\w+)\s", listed, re.MULTILINE)
    assert set(SUBCOMMANDS) <= set(names)
    return set(names) | {"help"}


# ---------------------------------------------------------------------------------------------
# The manual.

def man_source():
    return MAN.read_text()


def plain(roff):
    """roff text with the escapes that can sit inside an option name removed."""
    text = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", roff)  # font changes
    return text.replace("\\-", "-").replace("\\%", "").replace("\\&", "")


def man_sections():
    """{section title: [tag lines of its .TP paragraphs]}, for .SH and .SS sections, with
    escapes removed."""
    sections = {}
    title = None
    lines = man_source().splitlines()
    for index, line in enumerate(lines):
        match = re.match(r'\.S[HS]\s+"?([^"]*)"?\s*$', line)
        if match:
            title = plain(match.group(1)).strip()
            sections.setdefault(title, [])
        elif line.strip() == ".TP" and title is not None and index + 1 < len(lines):
            sections[title].append(plain(lines[index + 1]))
    return sections


def man_tags(section_title):
    sections = man_sections()
    assert section_title in sections, f"man page has no section {section_title!r}: {list(sections)}"
    return sections[section_title]


def test_man_documents_every_option_in_its_subcommands_section(options):
    """Each option has its own paragraph (.TP tag) under the section naming the subcommands
    that take it."""
    for option in options["listen"] | options["connect"]:
        takers = [sub for sub in SUBCOMMANDS if option in options[sub]]
        section = ("Options of both listen and connect" if len(takers) == 2
                   else f"Options of {takers[0]}")
        tagged = [tag for tag in man_tags(section) if option_pattern(option).search(tag)]
        assert tagged, f"{option} has no paragraph under '{section}' in {MAN}"


def test_man_options_are_not_in_other_subcommands_sections(options):
    for sub, other in (("listen", "connect"), ("connect", "listen")):
        for option in options[sub] - options[other]:
            for tag in man_tags(f"Options of {other}"):
                assert not option_pattern(option).search(tag), \
                    f"{option} ({sub} only) is documented under 'Options of {other}'"


def test_man_writes_option_hyphens_as_minus_signs(all_options):
    """A bare '-' is a hyphen to groff: `--udp` renders as a dash and cannot be copied and
    pasted into a shell. Options must be written with `\\-`."""
    source = "\n".join(line for line in man_source().splitlines() if not line.startswith('.\\"'))
    for option in all_options:
        match = re.search(r"(?<![\\\w-])" + re.escape(option) + r"(?![\w-])", source)
        assert not match, f"{option} written with a plain hyphen in {MAN}: ...{source[match.start() - 30:match.end() + 10]!r}..."


def test_man_documents_every_transform(transforms):
    tags = man_tags("TRANSFORMS")
    for name in transforms:
        assert any(re.fullmatch(r"\.B\s+" + re.escape(name), tag.strip()) for tag in tags), \
            f"transform {name!r} has no paragraph under TRANSFORMS in {MAN}"


def test_man_has_the_sections_the_product_needs():
    titles = set(man_sections())
    for title in ("NAME", "SYNOPSIS", "DESCRIPTION", "TRANSFORMS", "SEMANTICS", "UDP",
                  "EXIT STATUS", "SIGNALS", "EXAMPLES", "SEE ALSO"):
        assert title in titles, f"{MAN} lacks section {title}"


def test_man_version_is_the_binarys():
    result = run_sockcat("--version")
    assert result.returncode == 0
    version = result.stdout.decode().split()[-1]
    th = next(line for line in man_source().splitlines() if line.startswith(".TH "))
    assert f"sockcat {version}" in th, f"{th!r} does not name sockcat {version}"


def test_man_renders_without_warnings():
    if not shutil.which("groff"):
        pytest.skip("groff is not installed (Debian package groff-base)")
    result = subprocess.run(["groff", "-man", "-Tutf8", "-ww", str(MAN)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert result.returncode == 0
    assert result.stderr.decode() == "", result.stderr.decode()
    assert b"sockcat listen" in result.stdout


def test_man_passes_mandoc_lint():
    if not shutil.which("mandoc"):
        pytest.skip("mandoc is not installed (Debian package mandoc)")
    result = subprocess.run(["mandoc", "-Tlint", "-Wstyle", str(MAN)], capture_output=True, timeout=60)
    assert result.stdout.decode() + result.stderr.decode() == ""
    assert result.returncode == 0


# ---------------------------------------------------------------------------------------------
# The completion files, read.

def fish_spellings():
    """The option spellings declared by `complete` lines of the fish file (-s X, -l NAME,
    -o NAME)."""
    spellings = set()
    for line in FISH_COMPLETION.read_text().splitlines():
        if line.strip().startswith("complete "):
            for kind, name in re.findall(r"(?<!\S)-([slo])\s+([A-Za-z0-9][A-Za-z0-9-]*)", line):
                spellings.add(("--" if kind == "l" else "-") + name)
    return spellings


@pytest.mark.parametrize("path", [BASH_COMPLETION, ZSH_COMPLETION])
def test_completion_file_names_every_option(path, all_options):
    text = path.read_text()
    missing = [option for option in sorted(all_options) if not option_pattern(option).search(text)]
    assert not missing, f"{path} does not complete {missing}"


def test_fish_completion_declares_every_option(all_options):
    missing = sorted(all_options - fish_spellings())
    assert not missing, f"{FISH_COMPLETION} does not complete {missing}"


def test_zsh_completion_is_valid_zsh():
    if not shutil.which("zsh"):
        pytest.skip("zsh is not installed")
    assert ZSH_COMPLETION.read_text().startswith("#compdef sockcat\n")
    result = subprocess.run(["zsh", "-n", str(ZSH_COMPLETION)], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------------------------
# The completions, run.

def path_with(directory):
    return f"{directory}{os.pathsep}{os.environ.get('PATH', '')}"


def sockcat_dir():
    return str(Path(SOCKCAT).resolve().parent)


@pytest.fixture
def fake_sockcat(tmp_path):
    """A directory holding a `sockcat` whose only transform is 'zzfake': completing with it on
    PATH shows that the names are asked of the binary at completion time."""
    fake = tmp_path / "sockcat"
    fake.write_text("#!/bin/sh\n"
                    "[ \"$1 $2\" = 'listen --list-transforms' ] && "
                    "printf 'zzfake  a transform only this binary has\\n'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return str(tmp_path)


def bash_complete(words, path_dir=None):
    """Calls _sockcat as bash would for the command line `words` (the last word is the one
    being completed) and returns COMPREPLY."""
    script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); '
              'COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}; _sockcat; '
              'printf "%s\\n" "${COMPREPLY[@]}"')
    env = dict(os.environ, PATH=path_with(path_dir or sockcat_dir()))
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash",
                             str(BASH_COMPLETION)] + list(words),
                            capture_output=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == b"", result.stderr
    return [line for line in result.stdout.decode().splitlines() if line]


def test_bash_completes_transform_option():
    assert bash_complete(["sockcat", "listen", "--tr"]) == ["--transform"]


def test_bash_completes_transform_names_from_the_binary(transforms):
    assert bash_complete(["sockcat", "listen", "--transform", "u"]) == ["upper"]
    assert sorted(bash_complete(["sockcat", "listen", "--transform", ""])) == sorted(transforms)
    # --transform=u, as bash splits it
    assert bash_complete(["sockcat", "listen", "--transform", "=", "u"]) == ["upper"]
    # the binary named on the command line is the one asked
    assert bash_complete([SOCKCAT, "listen", "--transform", "u"], path_dir="/nonexistent") == ["upper"]


def test_bash_asks_the_binary_being_completed(fake_sockcat):
    assert bash_complete(["sockcat", "listen", "--transform", ""], path_dir=fake_sockcat) == ["zzfake"]


def test_bash_completes_subcommands(subcommands):
    assert set(bash_complete(["sockcat", ""])) >= subcommands
    assert bash_complete(["sockcat", "con"]) == ["connect"]
    assert sorted(bash_complete(["sockcat", "help", ""])) == sorted(SUBCOMMANDS)


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
def test_bash_offers_exactly_the_subcommands_options(subcommand, options):
    assert set(bash_complete(["sockcat", subcommand, "-"])) == options[subcommand]


# The nc style (no subcommand): connect's options until -l is given, then listen's, with the
# letters nc spells differently (-p, the source port, before -l; -s, the address to bind, after).
NC_CONNECT_EXTRA = {"-l", "--listen", "-p"}
NC_LISTEN_EXTRA = {"-s"}
TOP_LEVEL_ONLY = {"-V", "--version"}


def test_bash_offers_nc_style_options(options):
    assert set(bash_complete(["sockcat", "-"])) == options["connect"] | NC_CONNECT_EXTRA | TOP_LEVEL_ONLY
    assert set(bash_complete(["sockcat", "-v", "-"])) == options["connect"] | NC_CONNECT_EXTRA
    assert set(bash_complete(["sockcat", "-lv", "-"])) == options["listen"] | NC_LISTEN_EXTRA
    assert bash_complete(["sockcat", "-lvp", "80", "--tr"]) == ["--transform"]
    assert bash_complete(["sockcat", "-olog", "-v", "--tr"]) == []  # -olog holds no -l
    assert bash_complete(["sockcat", "-V", ""]) == []


def test_bash_completes_service_names_at_connects_port():
    assert bash_complete(["sockcat", "connect", "localhost", "http"]) == ["http", "https", "http-alt"]
    assert bash_complete(["sockcat", "-vw", "5", "localhost", "http"]) == ["http", "https", "http-alt"]
    assert "domain" in bash_complete(["sockcat", "connect", "-u", "localhost", "dom"])
    assert bash_complete(["sockcat", "connect", "localhost", "80", "ht"]) == []


def test_bash_does_not_offer_listen_options_to_connect():
    assert bash_complete(["sockcat", "connect", "--tr"]) == []


# listen --forward (sockcat(1), FORWARDING): its options on listen only; the TARGET is typed,
# the trust file is a file name.
FORWARD_OPTIONS = ["--forward", "--forward-ssl", "--forward-ssl-insecure", "--forward-ssl-pin",
                   "--forward-ssl-servername", "--forward-ssl-trustfile"]


def test_bash_completes_forward_options_on_listen_only(tmp_path):
    assert sorted(bash_complete(["sockcat", "listen", "--forw"])) == FORWARD_OPTIONS
    assert sorted(bash_complete(["sockcat", "-lp", "80", "--forw"])) == FORWARD_OPTIONS
    assert bash_complete(["sockcat", "connect", "--forw"]) == []
    assert bash_complete(["sockcat", "--forw"]) == []  # nc style without -l: connect
    (tmp_path / "target-ca.pem").touch()
    typed = str(tmp_path / "target-c")
    for option in (["--forward-ssl-trustfile"], ["--forward-ssl-trustfile", "="]):
        assert bash_complete(["sockcat", "listen", *option, typed]) == [str(tmp_path / "target-ca.pem")]
    for option in ("--forward", "--forward-ssl-servername", "--forward-ssl-pin"):
        assert bash_complete(["sockcat", "listen", option, typed]) == [], option
    # the word after a value is an option again
    assert bash_complete(["sockcat", "listen", "--forward", "host:80", "--forward-ssl-t"]) == ["--forward-ssl-trustfile"]


# Proxies (sockcat(1), PROXIES): --proxy, -X/--proxy-type, --proxy-auth and --proxy-dns on both
# subcommands (as --help has them), the destination limits of a proxy server on listen only.
# The types offered: the four a client speaks, or the two a proxy server speaks on listen
# without --proxy. HOST[:PORT], USER:PASS and the destination lists are typed.
PROXY_OPTIONS = ["--proxy", "--proxy-auth", "--proxy-dns", "--proxy-type"]
PROXY_SERVER_OPTIONS = ["--proxy-allow", "--proxy-deny", "--proxy-ports"]
CLIENT_TYPES = ["http", "socks4", "socks4a", "socks5"]
SERVER_TYPES = ["http", "socks5"]


def test_bash_completes_proxy_options_and_their_values(tmp_path):
    assert bash_complete(["sockcat", "connect", "--proxy-t"]) == ["--proxy-type"]
    assert sorted(bash_complete(["sockcat", "connect", "--proxy"])) == PROXY_OPTIONS
    assert sorted(bash_complete(["sockcat", "listen", "--proxy"])) == sorted(PROXY_OPTIONS + PROXY_SERVER_OPTIONS)
    assert sorted(bash_complete(["sockcat", "--proxy"])) == PROXY_OPTIONS  # nc style without -l: connect
    for option in (["--proxy-type"], ["-X"], ["--proxy-type", "="]):
        assert sorted(bash_complete(["sockcat", "connect", *option, ""])) == CLIENT_TYPES, option
        assert sorted(bash_complete(["sockcat", "listen", *option, ""])) == SERVER_TYPES, option
    assert bash_complete(["sockcat", "connect", "-X", "socks4"]) == ["socks4", "socks4a"]
    assert sorted(bash_complete(["sockcat", "-lp", "1080", "-X", ""])) == SERVER_TYPES
    assert sorted(bash_complete(["sockcat", "-vX", ""])) == CLIENT_TYPES
    # listen --forward --proxy: sockcat is the proxy's client
    assert sorted(bash_complete(["sockcat", "listen", "--forward", "h:80", "--proxy", "p", "--proxy-type", ""])) == CLIENT_TYPES
    assert sorted(bash_complete(["sockcat", "listen", "--proxy", "=", "p", "-X", ""])) == CLIENT_TYPES
    assert sorted(bash_complete(["sockcat", "connect", "--proxy-dns", ""])) == ["local", "remote"]
    (tmp_path / "target-host.txt").touch()
    typed = str(tmp_path / "target-h")
    for option in ("--proxy", "--proxy-auth"):
        assert bash_complete(["sockcat", "connect", option, typed]) == [], option
    for option in ("--proxy", "--proxy-allow", "--proxy-deny", "--proxy-ports"):
        assert bash_complete(["sockcat", "listen", option, typed]) == [], option
    # the values are skipped: the port is still the second positional argument
    assert bash_complete(["sockcat", "connect", "--proxy", "p:1080", "-X", "5", "--proxy-dns", "local",
                          "localhost", "http"]) == ["http", "https", "http-alt"]


def test_bash_completes_nc_proxy_spelling():
    """OpenBSD nc: with -X, -x names the proxy (typed); without it, -x is the hex dump file."""
    assert bash_complete(["sockcat", "-X", "5", "-x", "/tm"]) == []
    assert bash_complete(["sockcat", "-vX", "connect", "-vx", "/tm"]) == []
    assert bash_complete(["sockcat", "-x", "/tm"]) == ["/tmp"]
    assert bash_complete(["sockcat", "connect", "-x", "/tm"]) == ["/tmp"]  # no nc form, no proxy
    assert bash_complete(["sockcat", "-X", "5", "-x", "p:1080", "localhost", "http"]) == ["http", "https", "http-alt"]


def fish_complete(line, path_dir=None):
    """The candidates fish offers for `line` (text before the cursor)."""
    if not shutil.which("fish"):
        pytest.skip("fish is not installed")
    env = dict(os.environ, PATH=path_with(path_dir or sockcat_dir()))
    result = subprocess.run(["fish", "--no-config", "-c",
                             'source $argv[1]; complete -C"$argv[2]"',
                             str(FISH_COMPLETION), line],
                            capture_output=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return [entry.split("\t")[0] for entry in result.stdout.decode().splitlines() if entry]


def test_fish_completes_transform_option():
    assert "--transform" in fish_complete("sockcat listen --tr")


def test_fish_completes_transform_names_from_the_binary(transforms, fake_sockcat):
    assert fish_complete("sockcat listen --transform u") == ["upper"]
    assert sorted(fish_complete("sockcat listen --transform ")) == sorted(transforms)
    assert fish_complete("sockcat listen --transform ", path_dir=fake_sockcat) == ["zzfake"]


def test_fish_completes_subcommands(subcommands):
    assert set(fish_complete("sockcat ")) == subcommands
    assert sorted(fish_complete("sockcat help ")) == sorted(SUBCOMMANDS)


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
def test_fish_offers_exactly_the_subcommands_options(subcommand, options):
    assert set(fish_complete(f"sockcat {subcommand} -")) == options[subcommand]


def test_fish_offers_nc_style_options(options):
    assert set(fish_complete("sockcat -")) == options["connect"] | NC_CONNECT_EXTRA | TOP_LEVEL_ONLY
    assert set(fish_complete("sockcat -v -")) == options["connect"] | NC_CONNECT_EXTRA
    assert set(fish_complete("sockcat -lv -")) == options["listen"] | NC_LISTEN_EXTRA
    assert fish_complete("sockcat -lvp 80 --tr") == ["--transform"]
    assert fish_complete("sockcat -V ") == []


def test_fish_completes_forward_options_on_listen_only(tmp_path):
    assert sorted(fish_complete("sockcat listen --forw")) == FORWARD_OPTIONS
    assert sorted(fish_complete("sockcat -lp 80 --forw")) == FORWARD_OPTIONS
    assert fish_complete("sockcat connect --forw") == []
    assert fish_complete("sockcat --forw") == []
    (tmp_path / "target-ca.pem").touch()
    typed = str(tmp_path / "target-c")
    assert fish_complete(f"sockcat listen --forward-ssl-trustfile {typed}") == [str(tmp_path / "target-ca.pem")]
    for option in ("--forward", "--forward-ssl-servername", "--forward-ssl-pin"):
        assert fish_complete(f"sockcat listen {option} {typed}") == [], option


def test_fish_completes_proxy_options_and_their_values(tmp_path):
    assert fish_complete("sockcat connect --proxy-t") == ["--proxy-type"]
    assert sorted(fish_complete("sockcat connect --proxy")) == PROXY_OPTIONS
    assert sorted(fish_complete("sockcat listen --proxy")) == sorted(PROXY_OPTIONS + PROXY_SERVER_OPTIONS)
    assert sorted(fish_complete("sockcat --proxy")) == PROXY_OPTIONS
    for option in ("--proxy-type ", "-X ", "--proxy-type="):
        prefix = option if option.endswith("=") else ""
        assert sorted(fish_complete(f"sockcat connect {option}")) == [prefix + t for t in CLIENT_TYPES], option
        assert sorted(fish_complete(f"sockcat listen {option}")) == [prefix + t for t in SERVER_TYPES], option
    assert sorted(fish_complete("sockcat -lp 1080 -X ")) == SERVER_TYPES
    assert sorted(fish_complete("sockcat listen --forward h:80 --proxy p --proxy-type ")) == CLIENT_TYPES
    assert sorted(fish_complete("sockcat listen --proxy=p -X ")) == CLIENT_TYPES
    assert sorted(fish_complete("sockcat connect --proxy-dns ")) == ["local", "remote"]
    (tmp_path / "target-host.txt").touch()
    typed = str(tmp_path / "target-h")
    for option in ("--proxy", "--proxy-auth"):
        assert fish_complete(f"sockcat connect {option} {typed}") == [], option
    for option in ("--proxy", "--proxy-allow", "--proxy-deny", "--proxy-ports"):
        assert fish_complete(f"sockcat listen {option} {typed}") == [], option
    assert sorted(fish_complete("sockcat connect --proxy p:1080 -X 5 --proxy-dns local localhost http")) == \
        ["http", "http-alt", "https"]


def test_fish_completes_nc_proxy_spelling():
    assert fish_complete("sockcat -X 5 -x /tm") == []
    assert fish_complete("sockcat -x /tm") == ["/tmp/"]
    assert fish_complete("sockcat connect -x /tm") == ["/tmp/"]
    assert sorted(fish_complete("sockcat -X 5 -x p:1080 localhost http")) == ["http", "http-alt", "https"]


def test_fish_completes_service_names_at_connects_port():
    assert sorted(fish_complete("sockcat connect localhost http")) == ["http", "http-alt", "https"]
    assert sorted(fish_complete("sockcat -vw 5 localhost http")) == ["http", "http-alt", "https"]
    assert fish_complete("sockcat connect localhost 80 ht") == []


# zsh: an interactive zsh in a pseudo-terminal (zsh/zpty) with compinit and our file in
# $fpath. compadd is wrapped to record what it is asked to offer, and TAB is bound to a widget
# that completes and then prints a marker; the driver waits for that marker and for the
# prompt at every step, so nothing depends on timing.
ZSH_DRIVER = r"""
zmodload zsh/zpty || exit 3
compdir=$1 bindir=$2 hits=$3
shift 3
zpty sc zsh -f -i
zpty -w sc "unsetopt autolist listbeep; PATH=${(q)bindir}:\$PATH; fpath=(${(q)compdir} \$fpath)"
zpty -w sc "autoload -Uz compinit; compinit -u -D"
zpty -w sc 'compadd() { if (( ${@[(I)-[OAD]*]} )); then builtin compadd "$@"; return; fi;'\
' local -a found; builtin compadd -O found "$@"; print -rl -- $found >> '${(q)hits}'; builtin compadd "$@"; }'
zpty -w sc '_test_tab() { zle complete-word; print -rn -- "<""completed"">"; }; zle -N _test_tab; bindkey "^I" _test_tab'
zpty -w sc "PS1='<''ready''>'"
zpty -r sc output '*<ready>*' || exit 4
for line in "$@"; do
  : >| $hits
  zpty -w -n sc "$line"$'\t'
  zpty -r sc output '*<completed>*' || exit 5
  zpty -w sc $'\x15'
  zpty -r sc output '*<ready>*' || exit 6
  print -r -- "== $line"
  sort -u $hits
done
zpty -d sc
"""


def zsh_complete(lines, path_dir, tmp_path):
    """{line: candidates} from zsh completing each of `lines`."""
    if not shutil.which("zsh"):
        pytest.skip("zsh is not installed")
    driver = tmp_path / "driver.zsh"
    driver.write_text(ZSH_DRIVER)
    result = subprocess.run(["zsh", "-f", str(driver), str(ZSH_COMPLETION.parent), path_dir,
                             str(tmp_path / "hits")] + list(lines),
                            capture_output=True, timeout=60)
    if result.returncode == 3:
        pytest.skip("zsh has no zsh/zpty module")
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    found = {}
    for entry in result.stdout.decode().splitlines():
        if entry.startswith("== "):
            current = found.setdefault(entry[3:], [])
        elif entry:
            current.append(entry)
    assert set(found) == set(lines), result.stdout
    return found


def test_zsh_completion(tmp_path, options, transforms, subcommands):
    lines = ["sockcat ", "sockcat listen --tr", "sockcat listen --transform u",
             "sockcat listen --transform ", "sockcat listen -", "sockcat connect -",
             "sockcat connect --tr", "sockcat -", "sockcat -v -", "sockcat -lv -", "sockcat -V "]
    found = zsh_complete(lines, sockcat_dir(), tmp_path)
    assert set(found["sockcat "]) == subcommands
    assert found["sockcat listen --tr"] == ["--transform"]
    assert found["sockcat listen --transform u"] == ["upper"]
    assert sorted(found["sockcat listen --transform "]) == sorted(transforms)
    assert set(found["sockcat listen -"]) == options["listen"]
    assert set(found["sockcat connect -"]) == options["connect"]
    assert found["sockcat connect --tr"] == []
    assert set(found["sockcat -"]) == options["connect"] | NC_CONNECT_EXTRA | TOP_LEVEL_ONLY
    assert set(found["sockcat -v -"]) == options["connect"] | NC_CONNECT_EXTRA
    assert set(found["sockcat -lv -"]) == options["listen"] | NC_LISTEN_EXTRA
    assert found["sockcat -V "] == []


def test_zsh_completes_forward_options_on_listen_only(tmp_path):
    (tmp_path / "target-ca.pem").touch()
    typed = str(tmp_path / "target-c")
    lines = ["sockcat listen --forw", "sockcat -lp 80 --forw", "sockcat connect --forw",
             f"sockcat listen --forward-ssl-trustfile {typed}", f"sockcat listen --forward {typed}",
             "sockcat listen --forward host:80 --forward-ssl-t"]
    found = zsh_complete(lines, sockcat_dir(), tmp_path)
    assert sorted(found["sockcat listen --forw"]) == FORWARD_OPTIONS
    assert sorted(found["sockcat -lp 80 --forw"]) == FORWARD_OPTIONS
    assert found["sockcat connect --forw"] == []
    assert "target-ca.pem" in found[f"sockcat listen --forward-ssl-trustfile {typed}"]
    assert found[f"sockcat listen --forward {typed}"] == []
    assert found["sockcat listen --forward host:80 --forward-ssl-t"] == ["--forward-ssl-trustfile"]


def test_zsh_completes_proxy_options_and_their_values(tmp_path):
    (tmp_path / "target-host.txt").touch()
    typed = str(tmp_path / "target-h")
    typed_lines = [f"sockcat connect --proxy {typed}", f"sockcat connect --proxy-auth {typed}",
                   f"sockcat listen --proxy-allow {typed}", f"sockcat listen --proxy-deny {typed}",
                   f"sockcat listen --proxy-ports {typed}", "sockcat -X 5 -x /tm", "sockcat -X 5 -vx /tm"]
    lines = ["sockcat connect --proxy-t", "sockcat connect --proxy", "sockcat listen --proxy",
             "sockcat connect --proxy-type ", "sockcat connect -X ", "sockcat connect --proxy-type=s",
             "sockcat listen --proxy-type ", "sockcat listen -X ", "sockcat -lp 1080 -X ",
             "sockcat listen --forward h:80 --proxy p --proxy-type ", "sockcat listen --proxy=p -X ",
             "sockcat connect --proxy-dns ", "sockcat -x /tm", "sockcat connect -x /tm",
             "sockcat connect --proxy p:1080 -X 5 --proxy-dns local localhost http",
             "sockcat -X 5 -x p:1080 localhost http"] + typed_lines
    found = zsh_complete(lines, sockcat_dir(), tmp_path)
    assert found["sockcat connect --proxy-t"] == ["--proxy-type"]
    assert sorted(found["sockcat connect --proxy"]) == PROXY_OPTIONS
    assert sorted(found["sockcat listen --proxy"]) == sorted(PROXY_OPTIONS + PROXY_SERVER_OPTIONS)
    for line in ("sockcat connect --proxy-type ", "sockcat connect -X ",
                 "sockcat listen --forward h:80 --proxy p --proxy-type ", "sockcat listen --proxy=p -X "):
        assert sorted(found[line]) == CLIENT_TYPES, line
    assert sorted(found["sockcat connect --proxy-type=s"]) == ["socks4", "socks4a", "socks5"]
    for line in ("sockcat listen --proxy-type ", "sockcat listen -X ", "sockcat -lp 1080 -X "):
        assert sorted(found[line]) == SERVER_TYPES, line
    assert sorted(found["sockcat connect --proxy-dns "]) == ["local", "remote"]
    assert found["sockcat -x /tm"] == ["tmp"] and found["sockcat connect -x /tm"] == ["tmp"]
    for line in ("sockcat connect --proxy p:1080 -X 5 --proxy-dns local localhost http",
                 "sockcat -X 5 -x p:1080 localhost http"):
        assert sorted(found[line]) == ["http", "http-alt", "https"], line
    for line in typed_lines:
        assert found[line] == [], line


def test_zsh_asks_the_binary_being_completed(tmp_path, fake_sockcat):
    found = zsh_complete(["sockcat listen --transform "], fake_sockcat, tmp_path)
    assert found["sockcat listen --transform "] == ["zzfake"]


# ---------------------------------------------------------------------------------------------
# Installation.

def test_cmake_install_puts_the_docs_in_place(tmp_path):
    cmake = shutil.which("cmake")
    if not cmake:
        pytest.skip("cmake is not installed")
    build = Path(SOCKCAT).resolve().parent
    assert (build / "cmake_install.cmake").is_file(), f"{build} (from SOCKCAT) is not a CMake build directory"
    prefix = tmp_path / "prefix"
    result = subprocess.run([cmake, "--install", str(build), "--prefix", str(prefix)],
                            capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    installed = {
        "bin/sockcat": None,
        "share/man/man1/sockcat.1.gz": MAN,  # gzipped, as Debian installs manuals
        "share/bash-completion/completions/sockcat": BASH_COMPLETION,
        "share/zsh/vendor-completions/_sockcat": ZSH_COMPLETION,
        "share/fish/vendor_completions.d/sockcat.fish": FISH_COMPLETION,
        "share/doc/sockcat/copyright": REPO / "scripts" / "deb" / "copyright",
        "share/doc/sockcat/changelog.gz": None,
    }
    for relative, source in installed.items():
        path = prefix / relative
        assert path.is_file(), f"cmake --install did not install {relative}"
        if source is not None:
            content = path.read_bytes()
            if relative.endswith(".gz"):
                content = gzip.decompress(content)
            assert content == source.read_bytes(), f"{relative} differs from {source}"
    version = subprocess.run([str(prefix / "bin" / "sockcat"), "--version"], capture_output=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith(b"sockcat ")
