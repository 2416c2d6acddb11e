"""End-to-end tests of sockcat's own messages: one reason per line (no doubled error texts), and
output that cannot be written (help, version, transform list) is a failure, not a success."""
import os
import subprocess

import pytest

from conftest import SOCKCAT, run_sockcat
from helpers_tcp import assert_one_error_line


@pytest.mark.parametrize("make_path, expected", [
    (lambda tmp: str(tmp / "missing"), "sockcat: --send-file: cannot read '{}': No such file or directory"),
    (lambda tmp: str(tmp), "sockcat: --send-file: cannot read '{}': Is a directory"),
    (lambda tmp: "/dev/null", "sockcat: --send-file: '{}' is not a regular file"),
])
def test_send_file_that_cannot_be_read_names_one_reason(tmp_path, make_path, expected):
    path = make_path(tmp_path)
    result = run_sockcat("listen", "-p", "0", "--send-file", path, stdin=subprocess.DEVNULL, timeout=10)
    assert result.returncode == 1
    assert assert_one_error_line(result.stderr) == expected.format(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_send_file_without_permission_names_one_reason(tmp_path):
    path = tmp_path / "secret"
    path.write_bytes(b"x")
    path.chmod(0)
    result = run_sockcat("listen", "-p", "0", "--send-file", str(path), stdin=subprocess.DEVNULL, timeout=10)
    assert result.returncode == 1
    assert assert_one_error_line(result.stderr) == f"sockcat: --send-file: cannot read '{path}': Permission denied"


@pytest.mark.parametrize("args", [
    ["--help"], ["-h"], ["--version"], ["-V"], ["help"], ["help", "listen"], ["listen", "--help"],
    ["connect", "-h"], ["listen", "--list-transforms"], ["--list-transforms"],
])
def test_output_that_cannot_be_written_is_exit_1_with_one_line(args):
    with open("/dev/full", "wb") as full:
        result = subprocess.run([SOCKCAT, *args], stdout=full,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=10)
    assert result.returncode == 1
    assert_one_error_line(result.stderr, "cannot write", "No space left on device")


def test_output_that_can_be_written_is_exit_0():
    result = run_sockcat("--version", timeout=10)
    assert (result.returncode, result.stderr) == (0, b"")
    assert result.stdout.startswith(b"sockcat ")
