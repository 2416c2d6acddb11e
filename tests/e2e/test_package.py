"""The Debian package that scripts/package.sh builds, checked as a user meets it: lintian, its
files and fields, then `dpkg -i` into this system, the binary, the manual and the bash, zsh and
fish completions used from the installed paths, and `dpkg -r` / `dpkg --purge` leaving nothing.

SOCKCAT_DEB names the package (scripts/test.sh builds it and sets this); without it only the
tests of the changelog made from NEWS run. Installing needs root. The tests refuse to install
over a sockcat that is already on the system (a package, or any file the package holds), and
whatever happens the package is purged again when they end."""
import glob
import gzip
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import SOCKCAT

DEB = os.environ.get("SOCKCAT_DEB")
needs_deb = pytest.mark.skipif(not DEB, reason="SOCKCAT_DEB is not set (scripts/test.sh sets it)")
REPO = Path(__file__).resolve().parents[2]
NEWS_TO_CHANGELOG = REPO / "scripts" / "deb" / "news-to-changelog.sh"

# The files the package must hold: where Debian's man-db, bash-completion, zsh and fish look.
EXPECTED_FILES = {
    "/usr/bin/sockcat",
    "/usr/share/man/man1/sockcat.1.gz",
    "/usr/share/bash-completion/completions/sockcat",
    "/usr/share/zsh/vendor-completions/_sockcat",
    "/usr/share/fish/vendor_completions.d/sockcat.fish",
    "/usr/share/doc/sockcat/copyright",
    "/usr/share/doc/sockcat/changelog.gz",
}
DEP5_FORMAT = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"


def run(args, check=True, **kwargs):
    """Runs `args`, capturing text output; with `check`, a non-zero exit fails the test."""
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)
    if check:
        assert result.returncode == 0, f"{args} exited {result.returncode}: {result.stderr}"
    return result


def field(name):
    """A field of the package's control file."""
    return run(["dpkg-deb", "--field", DEB, name]).stdout.strip()


def package_entries():
    """(mode, owner, absolute path) of every entry in the package, as `ls -l` shows a mode."""
    entries = []
    for line in run(["dpkg-deb", "--contents", DEB]).stdout.splitlines():
        mode, owner, _size, _date, _time, name = line.split(None, 5)
        entries.append((mode, owner, "/" + name.removeprefix("./").rstrip("/")))
    return entries


def package_files():
    """{absolute path: mode} of the package's entries that are not directories."""
    return {path: mode for mode, _owner, path in package_entries() if not mode.startswith("d")}


def dpkg_status():
    """dpkg's state of the sockcat package here: '' or 'not-installed' when it is absent."""
    result = run(["dpkg-query", "--show", "--showformat=${db:Status-Status}", "sockcat"], check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


def user_env(home):
    """The environment of a user logging in afresh: no dotfiles, the system's PATH."""
    return {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "TERM": "dumb",
            "LANG": "C.UTF-8", "USER": "root", "SHELL": "/bin/bash"}


def fish_offers(line, home):
    """The candidates a plain fish session offers for `line` (text before the cursor)."""
    result = run(["fish", "-c", f"complete -C {line!r}"], env=user_env(home))
    return [candidate.split("\t")[0] for candidate in result.stdout.splitlines()]


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """The package's files, unpacked into a directory (not installed)."""
    root = tmp_path_factory.mktemp("deb")
    run(["dpkg-deb", "--extract", DEB, str(root)])
    return root


@pytest.fixture
def home(tmp_path):
    """An empty home directory, so no user's shell configuration takes part."""
    home = tmp_path / "home"
    home.mkdir()
    return home


# ---------------------------------------------------------------------------------------------
# The changelog the build makes from NEWS.

def project_version():
    """The version the build's sockcat reports: CMakeLists.txt's project(VERSION)."""
    return run([SOCKCAT, "--version"]).stdout.split()[-1]


def test_changelog_from_news_is_a_debian_changelog_of_the_project_version():
    changelog = run([str(NEWS_TO_CHANGELOG), str(REPO / "NEWS"), project_version(), "M <m@example.org>"]).stdout
    assert changelog.startswith(f"sockcat ({project_version()}) unstable; urgency=medium\n\n  * ")
    if shutil.which("dpkg-parsechangelog"):
        parsed = run(["dpkg-parsechangelog", "-l-", "-SVersion"], input=changelog).stdout.strip()
        assert parsed == project_version()
    assert max(len(line) for line in changelog.splitlines()) <= 80  # lintian's limit


def test_changelog_from_news_refuses_another_version():
    result = run([str(NEWS_TO_CHANGELOG), str(REPO / "NEWS"), "99.0.0", "M <m@example.org>"], check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("news-to-changelog.sh: ") and result.stderr.count("\n") == 1


# ---------------------------------------------------------------------------------------------
# The package file, before installing it.

@needs_deb
def test_lintian_reports_no_errors():
    if not shutil.which("lintian"):
        pytest.skip("lintian is not installed")
    result = run(["lintian", "--fail-on", "error", "--display-info", DEB], check=False)
    print(f"lintian {DEB}:\n{result.stdout}{result.stderr}")  # shown by pytest -rP
    errors = [line for line in result.stdout.splitlines() if line.startswith("E:")]
    assert result.returncode == 0 and not errors, result.stdout + result.stderr


@needs_deb
def test_file_name_and_version_come_from_the_project_version():
    version = project_version()
    assert field("Version") == version
    assert Path(DEB).name == f"sockcat_{version}_{field('Architecture')}.deb"


@needs_deb
def test_package_holds_the_files_where_debian_looks():
    files = package_files()
    assert set(files) == EXPECTED_FILES
    assert files["/usr/bin/sockcat"] == "-rwxr-xr-x"
    assert {owner for _mode, owner, _path in package_entries()} == {"root/root"}


@needs_deb
def test_control_fields_and_no_nc_alternative(tmp_path):
    assert field("Package") == "sockcat"
    assert field("Section") == "net"
    # No maintainer scripts (so no update-alternatives for nc) and no Provides: netcat.
    run(["dpkg-deb", "--control", DEB, str(tmp_path / "control")])
    assert sorted(path.name for path in (tmp_path / "control").iterdir()) == ["control", "md5sums"]
    assert field("Provides") == ""
    description = field("Description")
    for other in ("nc", "ncat", "socat"):
        assert re.search(rf"\b{other}\b", description), f"the description does not mention {other}"


@needs_deb
def test_depends_is_what_dpkg_shlibdeps_computes(extracted):
    # The binary is linked dynamically for the package, so it needs the C and C++ libraries.
    (extracted / "debian").mkdir()
    (extracted / "debian" / "control").write_text("Source: sockcat\n\nPackage: sockcat\nArchitecture: any\n")
    computed = run(["dpkg-shlibdeps", "-O", "-eusr/bin/sockcat"], cwd=extracted).stdout.strip()
    assert computed.startswith("shlibs:Depends=libc6 ")
    assert field("Depends") == computed.removeprefix("shlibs:Depends=")


@needs_deb
def test_copyright_is_machine_readable_and_changelog_is_debians(extracted):
    copyright_lines = (extracted / "usr/share/doc/sockcat/copyright").read_text().splitlines()
    assert copyright_lines[0] == DEP5_FORMAT
    assert "Files: *" in copyright_lines and any(line.startswith("License: ") for line in copyright_lines)
    changelog = gzip.decompress((extracted / "usr/share/doc/sockcat/changelog.gz").read_bytes()).decode()
    assert changelog.startswith(f"sockcat ({field('Version')}) unstable; urgency=medium\n")
    assert re.search(r"^ -- .+ <.+>  \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000$", changelog, re.M)


@needs_deb
def test_cmake_install_puts_the_same_files_in_the_same_places(tmp_path):
    build = Path(SOCKCAT).resolve().parent
    assert (build / "cmake_install.cmake").is_file(), f"{build} (from SOCKCAT) is not a CMake build directory"
    prefix = tmp_path / "usr"
    run(["cmake", "--install", str(build), "--prefix", str(prefix)])
    installed = {"/" + str(path.relative_to(tmp_path)) for path in prefix.rglob("*") if not path.is_dir()}
    assert installed == EXPECTED_FILES


# ---------------------------------------------------------------------------------------------
# Installed with dpkg -i, used, removed.

@pytest.fixture(scope="module")
def installed():
    """Installs the package for the tests that use it and purges it when they are done, even if
    one fails. Yields the paths of the package that existed before (shared directories)."""
    if os.geteuid() != 0:
        pytest.skip("installing a package needs root")
    status = dpkg_status()
    if status not in ("", "not-installed"):
        pytest.fail(f"refusing to install: a sockcat package is already on this system ({status})")
    clashes = [path for path in package_files() if os.path.lexists(path)]
    if clashes:
        pytest.fail(f"refusing to install: {clashes} exist already (a sockcat installed by hand?)")
    existed_before = {path for _mode, _owner, path in package_entries() if os.path.lexists(path)}
    try:
        run(["dpkg", "--install", DEB])
        missing = sorted(path for path in EXPECTED_FILES if not os.path.exists(path))
        assert not missing, f"dpkg did not install {missing} (a path-exclude in /etc/dpkg/dpkg.cfg.d?)"
        yield existed_before
    finally:
        if dpkg_status() not in ("", "not-installed"):
            subprocess.run(["dpkg", "--purge", "sockcat"], capture_output=True, timeout=300)


@needs_deb
def test_installed_sockcat_reports_the_package_version(installed, home):
    result = run(["bash", "-l", "-c", "command -v sockcat && sockcat --version"], env=user_env(home))
    assert result.stdout.splitlines() == ["/usr/bin/sockcat", f"sockcat {field('Version')}"]


@needs_deb
def test_man_shows_the_installed_manual(installed, home):
    env = dict(user_env(home), MANWIDTH="100")
    assert run(["man", "-w", "sockcat"], env=env).stdout.strip() == "/usr/share/man/man1/sockcat.1.gz"
    page = run(["man", "-P", "cat", "sockcat"], env=env).stdout
    assert "sockcat listen" in page
    assert f"sockcat {field('Version')}" in page.splitlines()[-1], "the footer names another version"


# A login bash loads bash-completion (/etc/profile.d/bash_completion.sh); _completion_loader is
# what it runs at the first Tab on a command without a completion yet.
BASH_SESSION = r"""
_completion_loader sockcat
spec=$(complete -p sockcat) || exit 3
function=${spec#*-F }; function=${function%% *}
shopt -s extdebug
declare -F "$function"
COMP_WORDS=(sockcat listen --tr); COMP_CWORD=2; COMP_LINE="sockcat listen --tr"; COMP_POINT=${#COMP_LINE}
"$function" sockcat --tr listen
printf 'offered %s\n' "${COMPREPLY[@]}"
"""


@needs_deb
def test_bash_loads_the_installed_completion(installed, home):
    if not Path("/etc/profile.d/bash_completion.sh").is_file():
        pytest.skip("bash-completion is not installed")
    result = run(["bash", "-l", "-i", "-c", BASH_SESSION], env=user_env(home))
    lines = result.stdout.splitlines()
    # declare -F with extdebug: "NAME LINE FILE", the file the function was read from
    assert any(line.endswith(" /usr/share/bash-completion/completions/sockcat") for line in lines), lines
    assert [line for line in lines if line.startswith("offered ")] == ["offered --transform"]


@needs_deb
def test_zsh_loads_the_installed_completion(installed, home):
    if not shutil.which("zsh"):
        pytest.skip("zsh is not installed")
    session = ("autoload -U compinit; compinit -D -u; print -r -- $_comps[sockcat]; "
               "autoload +X $_comps[sockcat] && print -r -- $functions_source[$_comps[sockcat]]")
    result = run(["zsh", "-f", "-c", session], env=user_env(home))
    assert result.stdout.splitlines() == ["_sockcat", "/usr/share/zsh/vendor-completions/_sockcat"]


@needs_deb
def test_fish_loads_the_installed_completion(installed, home):
    if not shutil.which("fish"):
        pytest.skip("fish is not installed")
    assert "--transform" in fish_offers("sockcat listen --tr", home)


@needs_deb
def test_remove_and_purge_leave_nothing_behind(installed, home):
    listed = run(["dpkg", "--listfiles", "sockcat"]).stdout.splitlines()
    assert set(EXPECTED_FILES) <= set(listed)
    run(["dpkg", "--remove", "sockcat"])
    run(["dpkg", "--purge", "sockcat"])
    assert dpkg_status() in ("", "not-installed")
    left = [path for path in listed if path not in installed and os.path.lexists(path)]
    assert left == [], f"left behind after dpkg --purge: {left}"
    assert glob.glob("/var/lib/dpkg/info/sockcat.*") == []
    if shutil.which("fish"):
        assert "--transform" not in fish_offers("sockcat listen --tr", home)
