"""Shell completion as a person meets it: a real interactive bash, zsh and fish on a terminal,
the completion files of this repository loaded the way each shell loads them, a partial
command line typed, Tab pressed (twice where the shell lists only then), and the screen read.

The terminal is tmux, with a private server per shell: it draws what the shell writes, so the
test reads the screen a person would see rather than the shell's escape sequences. Every wait
polls the screen until what is expected is on it or a deadline passes. The built sockcat is
first on PATH, since the completions ask it for the transform names."""
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import SOCKCAT, wait_until

REPO = Path(__file__).resolve().parents[2]
COMPLETIONS = REPO / "completions"
BASH_COMPLETION_LIBRARY = Path("/usr/share/bash-completion/bash_completion")
SHELLS = ("bash", "zsh", "fish")
PROMPT = "<ready> "
# The prompt as typed: split by quotes, so that the echo of the typed line is not the prompt.
PROMPT_TYPED = "'<rea''dy> '"
WIDTH, HEIGHT = 200, 100  # room for every candidate, so no shell asks before listing them
DEADLINE = 15  # seconds for a shell to start or to draw what it completed
# What a shell prints when a completion function fails: zsh's "_sockcat_unix_or:4: command
# not found: -J" or "_arguments:comparguments:327: invalid option definition", bash's
# "bash: ...: command not found", fish's "... (line 12): ..." and "Unknown command".
ERRORS = re.compile(r"command not found|unknown command|invalid option|[\w-]+:\d+: |\(line \d+\)|"
                    r"in function '", re.IGNORECASE)


class Terminal:
    """One interactive shell in a tmux pane of WIDTH x HEIGHT, on a tmux server of its own,
    started in `directory`."""

    def __init__(self, directory, command, environment):
        # The server's socket sits in a short directory of its own: a path under tmp_path may
        # be longer than a Unix socket's path can be.
        self.socket_directory = tempfile.mkdtemp(prefix="sockcat-tmux-")
        self.socket = os.path.join(self.socket_directory, "socket")
        try:
            subprocess.run(self.tmux("new-session", "-d", "-s", "t", "-x", str(WIDTH), "-y", str(HEIGHT),
                                     "-c", str(directory), "--", *command),
                           env=environment, check=True, capture_output=True, timeout=DEADLINE)
        except BaseException:
            self.close()
            raise

    def tmux(self, *arguments):
        return ["tmux", "-S", self.socket, "-f", "/dev/null", *arguments]

    def screen(self):
        """The lines shown now (tmux drops the blanks that end a line), trailing empty ones
        dropped."""
        result = subprocess.run(self.tmux("capture-pane", "-p", "-t", "t"), capture_output=True,
                                timeout=DEADLINE, check=True)
        return result.stdout.decode(errors="replace").rstrip("\n").splitlines()

    def type(self, text):
        subprocess.run(self.tmux("send-keys", "-t", "t", "-l", text), check=True, timeout=DEADLINE)

    def press(self, *keys):
        subprocess.run(self.tmux("send-keys", "-t", "t", *keys), check=True, timeout=DEADLINE)

    def wait_for(self, predicate, what):
        """Polls the screen until predicate(lines) holds; fails showing the screen otherwise."""
        shown = wait_until(lambda: predicate(self.screen()), timeout=DEADLINE, interval=0.05)
        assert shown, f"no {what} within {DEADLINE} s; the screen:\n" + "\n".join(self.screen())

    def wait_for_empty_prompt(self):
        """Clears the screen and waits until it shows only an empty prompt."""
        self.press("C-l")
        self.wait_for(lambda lines: [line.rstrip() for line in lines] == [PROMPT.rstrip()],
                      "empty prompt alone on the screen")

    def close(self):
        subprocess.run(self.tmux("kill-server"), capture_output=True, timeout=DEADLINE)
        shutil.rmtree(self.socket_directory, ignore_errors=True)


def environment(tmp_path):
    """The environment of the shells: the built sockcat first on PATH, tmux's own variables
    dropped, and fish's files kept in the test's directory."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("TMUX")}
    env["PATH"] = f"{Path(SOCKCAT).resolve().parent}{os.pathsep}{env.get('PATH', '')}"
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        env[name] = str(tmp_path / name.lower())
    return env


def start_bash(tmp_path):
    """bash with bash-completion, then completions/sockcat.bash, sourced from its rc file."""
    if not BASH_COMPLETION_LIBRARY.is_file():
        pytest.skip("bash-completion is not installed")
    rc = tmp_path / "bashrc"
    rc.write_text(f"PS1={PROMPT_TYPED}\n"
                  f"source {BASH_COMPLETION_LIBRARY}\n"
                  f"source {COMPLETIONS / 'sockcat.bash'}\n")
    return Terminal(tmp_path, ["bash", "--noprofile", "--rcfile", str(rc), "-i"], environment(tmp_path))


def start_zsh(tmp_path):
    """zsh -f, with the completions on $fpath and compinit run, as a person types them."""
    terminal = Terminal(tmp_path, ["zsh", "-f"], environment(tmp_path))
    terminal.type(f"fpath=({COMPLETIONS} $fpath); autoload -U compinit && compinit -u; PS1={PROMPT_TYPED}")
    terminal.press("Enter")
    return terminal


def start_fish(tmp_path):
    """fish --no-config with completions/sockcat.fish sourced and autosuggestions off (their
    grey text would look like a completion on the screen)."""
    init = (f"set -g fish_greeting; set -g fish_autosuggestion_enabled 0; "
            f"function fish_prompt; printf %s {PROMPT_TYPED}; end; "
            f"source {COMPLETIONS / 'sockcat.fish'}")
    return Terminal(tmp_path, ["fish", "--no-config", "-C", init], environment(tmp_path))


STARTERS = {"bash": start_bash, "zsh": start_zsh, "fish": start_fish}


@pytest.fixture(params=SHELLS)
def terminal(request, tmp_path):
    """A shell named by the parameter, on a terminal, showing an empty prompt."""
    shell = request.param
    for program in ("tmux", shell):
        if not shutil.which(program):
            pytest.skip(f"{program} is not installed")
    terminal = STARTERS[shell](tmp_path)
    terminal.shell = shell
    try:
        terminal.wait_for(lambda lines: any(line.startswith(PROMPT.rstrip()) for line in lines), "prompt")
        terminal.wait_for_empty_prompt()
        yield terminal
    finally:
        terminal.close()


def type_line(terminal, line):
    """Types `line` at the prompt and waits until the shell shows it."""
    terminal.type(line)
    terminal.wait_for(lambda lines: lines and lines[0] == (PROMPT + line).rstrip(), f"typed line {line!r}")


def offered(lines):
    """The words on the screen outside the prompt lines: the candidates a shell lists."""
    return {word for line in lines if not line.startswith(PROMPT.rstrip()) for word in line.split()}


def assert_no_errors(terminal):
    text = "\n".join(terminal.screen())
    assert not ERRORS.search(text), f"{terminal.shell} printed an error:\n{text}"


def assert_lists(terminal, line, expected):
    """Types `line`, presses Tab as the shell needs to list the candidates and asserts that
    every one of `expected` is listed. `line` ends with what the candidates share: bash lists
    on a second Tab only if the first one inserted nothing."""
    type_line(terminal, line)
    listed = lambda lines: set(expected) <= offered(lines)
    what = f"{sorted(expected)} listed by {terminal.shell} for {line!r}"
    if terminal.shell == "zsh":
        # The first Tab inserts what all candidates share, if anything, else lists them; a
        # second one lists. Both at once would not do: zsh lists nothing while keys are queued.
        typed = terminal.screen()
        terminal.press("Tab")
        terminal.wait_for(lambda lines: lines != typed, f"zsh answering Tab after {line!r}")
        if not listed(terminal.screen()):
            terminal.press("Tab")
    elif terminal.shell == "bash":
        terminal.press("Tab", "Tab")  # readline lists on the second Tab
    else:
        terminal.press("Tab")  # fish lists at once, in its pager
    terminal.wait_for(listed, what)
    assert_no_errors(terminal)


def assert_completes(terminal, line, completed):
    """Types `line`, presses Tab once and asserts that the line then starts with `completed`,
    followed by a blank, '=' or its end."""
    type_line(terminal, line)
    terminal.press("Tab")
    whole = re.compile(re.escape(PROMPT + completed) + r"(?:[ =]|$)")
    terminal.wait_for(lambda lines: lines and whole.match(lines[0]),
                      f"{line!r} completed to {completed!r} by {terminal.shell}")
    assert_no_errors(terminal)


def test_listen_options_are_listed(terminal):
    assert_lists(terminal, "sockcat listen -", {"--transform", "--keep-open"})


def test_a_long_option_completes(terminal):
    assert_completes(terminal, "sockcat connect --w", "sockcat connect --wait")


def test_unix_socket_path_is_completed_as_a_file_name(terminal, tmp_path):
    (tmp_path / "sockets").mkdir()
    (tmp_path / "sockets" / "echo.sock").touch()
    assert_completes(terminal, "sockcat connect -U sockets/ec", "sockcat connect -U sockets/echo.sock")
    terminal.press("C-u")
    terminal.wait_for_empty_prompt()
    assert_completes(terminal, "sockcat listen -U sockets/ec", "sockcat listen -U sockets/echo.sock")


def test_transform_names_come_from_the_binary(terminal):
    assert_lists(terminal, "sockcat listen --transform ", {"echo", "upper", "none"})


def test_connect_host_is_completed(terminal):
    if terminal.shell == "fish":
        pytest.skip("fish completes no host of 127.0.0.0/8 from /etc/hosts, by design")
    assert_completes(terminal, "sockcat connect localh", "sockcat connect localhost")


def test_connect_port_offers_service_names(terminal):
    assert_lists(terminal, "sockcat connect localhost http", {"https", "http-alt"})


def test_nc_style_options_are_listed_at_the_first_word(terminal):
    assert_lists(terminal, "sockcat -", {"-l", "-v", "--version"})


def test_nc_style_listen_completes_listen_options(terminal):
    assert_completes(terminal, "sockcat -lvp 80 --tr", "sockcat -lvp 80 --transform")


def test_nc_style_connect_port_offers_service_names(terminal):
    assert_lists(terminal, "sockcat -v -w 5 localhost http", {"https", "http-alt"})


# TLS (sockcat(1), TLS): the --ssl options on the subcommands that take them, and the values
# of --ssl-min-version.

def test_tls_option_completes_on_connect(terminal):
    assert_completes(terminal, "sockcat connect --ssl-m", "sockcat connect --ssl-min-version")


def test_tls_min_version_offers_the_versions(terminal):
    assert_lists(terminal, "sockcat connect --ssl-min-version 1.", {"1.2", "1.3"})


def test_tls_connect_only_options_are_listed_on_connect(terminal):
    assert_lists(terminal, "sockcat connect --ssl-", {"--ssl-pin", "--ssl-insecure", "--ssl-servername",
                                                      "--ssl-cert", "--ssl-verify"})


def test_tls_listen_does_not_offer_connect_only_options(terminal):
    assert_lists(terminal, "sockcat listen --ssl-", {"--ssl-cert", "--ssl-verify", "--ssl-trustfile"})
    assert not {"--ssl-pin", "--ssl-insecure", "--ssl-servername"} & offered(terminal.screen())


def test_tls_certificate_is_completed_as_a_file_name(terminal, tmp_path):
    (tmp_path / "server-cert.pem").touch()
    assert_completes(terminal, "sockcat listen --ssl-cert server-c", "sockcat listen --ssl-cert server-cert.pem")


# Forwarding (sockcat(1), FORWARDING): --forward and the --forward-ssl options, on listen only.

FORWARD_OPTIONS = {"--forward", "--forward-ssl", "--forward-ssl-trustfile", "--forward-ssl-servername",
                   "--forward-ssl-pin", "--forward-ssl-insecure"}


def assert_tab_leaves_the_line(terminal, line):
    """Types `line`, presses Tab as assert_lists does, and asserts that nothing was inserted and
    nothing listed. A key typed after the Tabs shows when the shell has dealt with them (every
    shell handles keys in order); what a shell inserts does not depend on its lists being
    drawn, so the check does not rest on timing."""
    type_line(terminal, line)
    terminal.press("Tab", "Tab") if terminal.shell == "bash" else terminal.press("Tab")
    terminal.type("Z")
    terminal.wait_for(lambda lines: lines and lines[0].startswith(PROMPT) and lines[0].endswith("Z"),
                      f"the key typed after Tab on {line!r}")
    lines = terminal.screen()
    assert lines[0] == PROMPT + line + "Z", f"{terminal.shell} completed {line!r}:\n" + "\n".join(lines)
    assert not offered(lines), f"{terminal.shell} offered something for {line!r}:\n" + "\n".join(lines)
    assert_no_errors(terminal)


def test_forward_option_completes_on_listen(terminal):
    assert_completes(terminal, "sockcat listen --forw", "sockcat listen --forward")


def test_forward_options_are_listed_on_listen(terminal):
    assert_lists(terminal, "sockcat listen --forward", FORWARD_OPTIONS)


def test_forward_options_are_listed_in_the_nc_style_listen(terminal):
    assert_lists(terminal, "sockcat -lp 8080 --forward", FORWARD_OPTIONS)


def test_connect_offers_no_forward_option(terminal):
    assert_tab_leaves_the_line(terminal, "sockcat connect --forw")
    terminal.press("C-u")
    terminal.wait_for_empty_prompt()
    # --f is --framing alone on connect (on listen it is shared with the --forward options)
    assert_completes(terminal, "sockcat connect --f", "sockcat connect --framing")


def test_forward_trustfile_is_completed_as_a_file_name(terminal, tmp_path):
    (tmp_path / "target-ca.pem").touch()
    assert_completes(terminal, "sockcat listen --forward localhost:8443 --forward-ssl-trustfile target-c",
                     "sockcat listen --forward localhost:8443 --forward-ssl-trustfile target-ca.pem")


def test_forward_target_is_not_completed_as_a_file_name(terminal, tmp_path):
    """TARGET is HOST:PORT, [IPV6]:PORT or unix:PATH, typed: a file whose name starts with
    what was typed is not offered."""
    (tmp_path / "target-host.txt").touch()
    assert_tab_leaves_the_line(terminal, "sockcat listen --forward targ")


# Proxies (sockcat(1), PROXIES): the --proxy options and their values; a proxy server on listen
# speaks socks5 or http, a client (connect, or listen --forward --proxy) any of the four.

CLIENT_TYPES = {"socks4", "socks4a", "socks5", "http"}


def test_proxy_type_option_completes_on_connect(terminal):
    assert_completes(terminal, "sockcat connect --proxy-t", "sockcat connect --proxy-type")


def test_connect_proxy_type_offers_the_four_types(terminal):
    assert_lists(terminal, "sockcat connect --proxy-type ", CLIENT_TYPES)


def test_listen_proxy_type_offers_the_server_types(terminal):
    assert_lists(terminal, "sockcat listen -p 1080 --proxy-type ", {"socks5", "http"})
    assert not {"socks4", "socks4a"} & offered(terminal.screen())


def test_listen_forward_through_a_proxy_offers_the_client_types(terminal):
    assert_lists(terminal, "sockcat listen -p 8080 --forward db:5432 --proxy gw:1080 --proxy-type socks",
                 {"socks4", "socks4a", "socks5"})


def test_proxy_dns_offers_local_and_remote(terminal):
    assert_lists(terminal, "sockcat connect --proxy-dns ", {"local", "remote"})


def test_connect_offers_no_proxy_server_option(terminal):
    """--proxy-allow, --proxy-deny and --proxy-ports are listen's: on connect, --proxy-a is
    --proxy-auth alone."""
    assert_completes(terminal, "sockcat connect --proxy-a", "sockcat connect --proxy-auth")
    terminal.press("C-u")
    terminal.wait_for_empty_prompt()
    assert_lists(terminal, "sockcat listen --proxy-", {"--proxy-allow", "--proxy-deny", "--proxy-ports",
                                                        "--proxy-auth", "--proxy-type", "--proxy-dns"})


def test_proxy_host_is_typed_not_a_file_name(terminal, tmp_path):
    """--proxy HOST[:PORT], and nc's -x after -X, are typed: a file whose name starts with what
    was typed is not offered (without -X, nc's -x is the hex dump file, completed)."""
    (tmp_path / "target-host.txt").touch()
    assert_tab_leaves_the_line(terminal, "sockcat connect --proxy targ")
    terminal.press("C-u")
    terminal.wait_for_empty_prompt()
    assert_tab_leaves_the_line(terminal, "sockcat -X 5 -x targ")
    terminal.press("C-u")
    terminal.wait_for_empty_prompt()
    assert_completes(terminal, "sockcat -x targ", "sockcat -x target-host.txt")
