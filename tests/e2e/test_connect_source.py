"""Where a connect failed: a bad -s or a taken --source-port names the bind, never the
destination; a refusal from a host with one address is one line, whatever the -v count."""
import socket
import subprocess

import pytest

from conftest import run_sockcat
from helpers_tcp import LOOP4, assert_one_error_line, tcp_listener, unused_port

NOT_OURS = "192.0.2.1"  # TEST-NET-1: never assigned to this host


@pytest.mark.parametrize("form", [["connect"], []], ids=["connect", "nc form"])
def test_source_address_not_ours_names_the_bind(form):
    listener, port = tcp_listener()
    result = run_sockcat(*form, "-s", NOT_OURS, LOOP4, str(port), stdin=subprocess.DEVNULL, timeout=10)
    assert result.returncode == 1
    line = assert_one_error_line(result.stderr, f"bind to {NOT_OURS}: ", "cannot assign requested address")
    assert "connect" not in line
    listener.close()


def test_source_port_in_use_names_the_bind():
    holder, taken = tcp_listener()
    result = run_sockcat("connect", "--source-port", str(taken), LOOP4, str(unused_port()),
                         stdin=subprocess.DEVNULL, timeout=10)
    assert result.returncode == 1
    assert_one_error_line(result.stderr, f"bind to port {taken}: ", "address already in use")
    holder.close()


def test_udp_source_address_not_ours_names_the_bind():
    result = run_sockcat("connect", "-u", "-s", NOT_OURS, LOOP4, "9", stdin=subprocess.DEVNULL, timeout=10)
    assert result.returncode == 1
    assert_one_error_line(result.stderr, f"bind to {NOT_OURS}: ")


def test_udp_source_port_in_use_names_the_bind():
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind((LOOP4, 0))
    taken = holder.getsockname()[1]
    result = run_sockcat("connect", "-u", "-s", LOOP4, "--source-port", str(taken), LOOP4, "9",
                         stdin=subprocess.DEVNULL, timeout=10)
    assert result.returncode == 1
    assert_one_error_line(result.stderr, f"bind to {LOOP4} port {taken}: ", "address already in use")
    holder.close()


def test_port_check_with_a_bad_source_is_one_bind_line():
    result = run_sockcat("connect", "-zv", "-s", NOT_OURS, LOOP4, "1-200", stdin=subprocess.DEVNULL, timeout=10)
    assert result.returncode == 1
    assert_one_error_line(result.stderr, f"bind to {NOT_OURS}: ")


@pytest.mark.parametrize("verbose", ["-v", "-vv"])
def test_refusal_from_one_address_is_one_line(verbose):
    port = unused_port()
    result = run_sockcat(verbose, LOOP4, str(port), stdin=subprocess.DEVNULL, timeout=10)
    assert result.returncode == 1
    assert_one_error_line(result.stderr, f"port {port}", "refused")
