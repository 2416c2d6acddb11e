"""End-to-end tests over an impaired network: packet loss, delay with jitter, and reordering.

The hardening issue asks for `tc netem` on a veth pair in a network namespace; this kernel has
no netem (CONFIG_NET_SCH_NETEM is not set), so impair.py does the same in userspace between two
TUN devices, one in each of two namespaces (see its docstring). 256 MiB of deterministic data
go through the TCP relay (`connect` in A to `listen` in B) and through the `echo` server in B,
and must arrive with the same SHA-256; the forwarder's counters prove that packets really were
dropped, delayed and reordered on the way.

Parameters: loss 1% of the packets each way, delay 3 ms +- 1 ms each way (RTT about 6-8 ms),
2% of the packets held back 3 ms more so that the packets behind them overtake them. Both
namespaces use Reno congestion control: a loss-based one that every kernel allows in a
namespace, so the run takes the same time whatever the host's default (BBR, which ignores
loss, moves 256 MiB here in 2 s; Reno and CUBIC follow the 1/sqrt(loss) law). Under it the
throughput grows with the segment size: measured on 2 cores (Release) per 256 MiB, MTU 1500
took 123 s, 9000 20 s, 16000 13 s, 65000 3 s. MTU 16000 keeps each test near 13 s while TCP
still loses, reorders and retransmits a few hundred segments per direction."""
import subprocess
import time

import pytest

from helpers_impair import (ADDR_B, MIB, NsServer, digest_until_eof, feed,  # noqa: F401
                            impaired_link, in_netns)
from helpers_tcp import background, procs, wait_exit  # noqa: F401

TOTAL = 256 * MIB
IMPAIRMENT = dict(mtu=16000, loss=0.01, delay_ms=3, jitter_ms=1, reorder=0.02, gap_ms=3)
TRANSFER_TIMEOUT = 200   # seconds per 256 MiB; Release needs far less, ASan somewhat more
CLOSED_LINE = rb"connection from \S+ closed \(received (\d+) bytes, sent (\d+)\)"


@pytest.fixture
def link():
    with impaired_link(time_limit=TRANSFER_TIMEOUT + 60, congestion="reno", seed=20240,
                       **IMPAIRMENT) as made:
        yield made


def assert_impaired(counters, *directions):
    """Every direction named lost, delayed and reordered packets, and forwarded the rest."""
    for name in directions:
        count = counters[name]
        assert count["forwarded"] > 0, (name, counters)
        assert count["dropped"] > 0, (name, counters)
        assert count["delayed"] > 0, (name, counters)
        assert count["reordered"] > 0, (name, counters)
        assert count["write_errors"] == 0, (name, counters)


def report(what, seconds, counters):
    data = counters["a_to_b"]
    print(f"\n{what}: {TOTAL // MIB} MiB in {seconds:.1f} s ({TOTAL / MIB / seconds:.1f} MiB/s); "
          f"a->b {data['forwarded']} packets forwarded, {data['dropped']} dropped, "
          f"{data['reordered']} reordered; b->a {counters['b_to_a']}")


def test_relay_256_mib_through_loss_delay_and_reordering(link, procs):
    """`sockcat connect` in A (stdin a pipe) to `sockcat listen` in B (stdout a pipe)."""
    server = NsServer(procs, link.ns_b, "listen", "-v", "-p", "0", stdout=subprocess.PIPE)
    started = time.monotonic()
    client = procs.popen(in_netns(link.ns_a, "connect", ADDR_B, server.port),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    received = background(digest_until_eof, server.proc.stdout, TOTAL)
    echoed = background(digest_until_eof, client.stdout, TOTAL)
    sent = background(feed, client.stdin, TOTAL, 1)

    client_status = wait_exit(client, TRANSFER_TIMEOUT, "sockcat connect")
    seconds = time.monotonic() - started
    assert client_status == 0, client.stderr.read()
    assert client.stderr.read() == b""
    assert wait_exit(server.proc, 30, "sockcat listen") == 0, server.stderr()
    sent_count, sent_sha = sent.join(30)
    assert sent_count == TOTAL
    assert received.join(30) == (TOTAL, sent_sha)
    assert echoed.join(30)[0] == 0  # the listener's stdin was empty: nothing comes back
    counters = link.stop()
    report("relay", seconds, counters)
    assert_impaired(counters, "a_to_b", "b_to_a")


def test_echo_server_256_mib_through_loss_delay_and_reordering(link, procs):
    """`sockcat connect` in A sends stdin to `sockcat listen --transform echo` in B and writes
    the echo to stdout: the same bytes, in both directions at once."""
    server = NsServer(procs, link.ns_b, "listen", "-v", "-p", "0", "--transform", "echo")
    started = time.monotonic()
    client = procs.popen(in_netns(link.ns_a, "connect", ADDR_B, server.port),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    echoed = background(digest_until_eof, client.stdout, TOTAL)
    sent = background(feed, client.stdin, TOTAL, 2)

    client_status = wait_exit(client, TRANSFER_TIMEOUT, "sockcat connect")
    seconds = time.monotonic() - started
    assert client_status == 0, client.stderr.read()
    assert client.stderr.read() == b""
    sent_count, sent_sha = sent.join(30)
    assert sent_count == TOTAL
    assert echoed.join(30) == (TOTAL, sent_sha)
    closed = server.wait_for(CLOSED_LINE, timeout=10)
    assert closed, server.stderr()
    assert (int(closed.group(1)), int(closed.group(2))) == (TOTAL, TOTAL)
    assert server.proc.poll() is None  # a replying server outlives its clients
    server.proc.terminate()
    assert wait_exit(server.proc, 10, "sockcat listen --transform echo") == 143
    counters = link.stop()
    report("echo", seconds, counters)
    assert_impaired(counters, "a_to_b", "b_to_a")
