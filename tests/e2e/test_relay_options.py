"""End-to-end tests of the relay's connection options against the real binary: -C/--crlf,
-d/--delay, --send-only, --recv-only, -o/--output, -x/--hex-dump, --append-output, --stats and
--progress, with Python, OpenBSD nc and socat as the peers."""
import os
import re
import select
import shutil
import socket
import subprocess
import time

import pytest

from conftest import SOCKCAT, wait_log
from helpers_peers import read_until
from helpers_tcp import (LOOP4, accept, assert_one_error_line, background, procs,  # noqa: F401
                         random_bytes, read_fd, recv_exact, recv_until_eof, sees_eof_within, sha256,
                         stderr_lines, tcp_listener, unused_port, wait_exit)

MIB = 1 << 20
STATS = re.compile(r"^sockcat: sent (\d+) bytes, received (\d+) bytes in (\d+\.\d{3}) s")


def stats_of(stderr):
    """(sent, received) from the one --stats line of `stderr`."""
    found = [STATS.match(line) for line in stderr_lines(stderr)]
    found = [match for match in found if match]
    assert len(found) == 1, f"expected one --stats line in {stderr!r}"
    return int(found[0].group(1)), int(found[0].group(2))


def serve(listener, reply=b"", read_first=True):
    """Accepts one client, reads it to EOF, then (when `read_first`) sends `reply` and closes.
    Returns what the client sent."""
    conn = accept(listener, timeout=20)
    with conn:
        if not read_first:
            conn.sendall(reply)
            conn.shutdown(socket.SHUT_WR)
        received = recv_until_eof(conn, timeout=30)
        if read_first:
            conn.sendall(reply)
        return received


def parse_hex_dump(text):
    """{'>': bytes sent, '<': bytes received} rebuilt from the hex columns of a -x dump,
    checking that each direction's offsets run on without a gap."""
    streams = {">": b"", "<": b""}
    line_format = re.compile(r"^([<>]) ([0-9a-f]{8,})  ((?:[0-9a-f]{2} | {3}| )+) \|(.*)\|$")
    for line in text.splitlines():
        match = line_format.match(line)
        assert match, f"not a hex dump line: {line!r}"
        marker, offset, hex_part = match.group(1), int(match.group(2), 16), match.group(3)
        assert offset == len(streams[marker]), f"offset {offset:#x} after {len(streams[marker])} bytes: {line!r}"
        chunk = bytes.fromhex(hex_part.replace(" ", ""))
        printable = "".join(chr(b) if 0x20 <= b < 0x7f else "." for b in chunk)
        assert match.group(4) == printable, line
        streams[marker] += chunk
    return streams


# -C ------------------------------------------------------------------------------------------

def test_crlf_across_a_chunk_boundary_and_with_existing_crlf(procs):
    """A CR at the end of one stdin read and the LF at the start of the next are one CRLF,
    not CR CR LF; an existing CRLF stays; every lone LF becomes CRLF."""
    listener, port = tcp_listener()
    with listener:
        client = procs.sockcat("connect", "-C", LOOP4, port, stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL)
        conn = accept(listener)
        with conn:
            client.stdin.write(b"first\r")
            client.stdin.flush()
            assert recv_exact(conn, 6) == b"first\r"  # the first read has gone out on its own
            client.stdin.write(b"\nsecond\nthird\r\n\n")
            client.stdin.close()
            assert recv_until_eof(conn) == b"\nsecond\r\nthird\r\n\r\n"  # no second CR
    assert wait_exit(client, 10) == 0


def test_crlf_to_openbsd_nc_listener_and_stats_count_what_was_sent(procs, tmp_path):
    if not shutil.which("nc.openbsd"):
        pytest.skip("nc.openbsd is not installed")
    port = unused_port()
    with open(tmp_path / "received", "wb") as out:
        nc = procs.popen(["nc.openbsd", "-l", "127.0.0.1", str(port)], stdin=subprocess.DEVNULL, stdout=out)
        deadline = time.monotonic() + 10
        while True:  # nc prints nothing when it is ready: retry the connect until it listens
            result = subprocess.run([SOCKCAT, "connect", "-C", "--stats", LOOP4, str(port)],
                                    input=b"a\nb\r\nc", capture_output=True, timeout=30)
            if result.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.05)  # nc not listening yet: a bounded retry, not a synchronisation
    assert result.returncode == 0, result.stderr
    assert wait_exit(nc, 10, "nc") == 0
    assert (tmp_path / "received").read_bytes() == b"a\r\nb\r\nc"
    assert stats_of(result.stderr) == (7, 0)


# -d ------------------------------------------------------------------------------------------

def test_delay_paces_lines_and_each_line_arrives_whole(procs):
    """-d 150ms with 5 lines: at least 4 pauses, so the peer sees the last line no sooner
    than 0.6 s after the first (a lower bound measured, not a sleep)."""
    listener, port = tcp_listener()
    lines = [b"line %d\n" % i for i in range(5)]
    with listener:
        client = procs.sockcat("connect", "-d", "150ms", LOOP4, port, stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL)
        client.stdin.write(b"".join(lines))  # all at once: one read; the pacing is sockcat's
        client.stdin.close()
        conn = accept(listener)
        with conn:
            first = recv_exact(conn, len(lines[0]))
            started = time.monotonic()
            rest = recv_until_eof(conn)
            elapsed = time.monotonic() - started
    assert first + rest == b"".join(lines)
    assert elapsed >= 0.6 - 0.02, f"5 lines with -d 150ms took only {elapsed:.3f} s"
    assert wait_exit(client, 10) == 0


# --send-only / --recv-only ---------------------------------------------------------------------

def test_send_only_ends_at_stdin_eof_while_the_peer_stays_open(procs):
    """The peer sends and never closes: --send-only still exits once stdin has ended (after the
    half-close), and writes nothing that arrived to stdout."""
    listener, port = tcp_listener()
    with listener:
        client = procs.sockcat("connect", "--send-only", LOOP4, port, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE)
        conn = accept(listener)
        with conn:
            conn.sendall(b"ignored by --send-only\n" * 1000)
            client.stdin.write(b"hello")
            client.stdin.close()
            assert recv_until_eof(conn) == b"hello"  # the half-close came
            assert wait_exit(client, 10) == 0        # ... and sockcat left without our EOF
            assert client.stdout.read() == b""


def test_without_send_only_the_peer_keeps_the_session_open(procs):
    """The control for the test above: a plain relay waits for the peer's EOF."""
    listener, port = tcp_listener()
    with listener:
        client = procs.sockcat("connect", LOOP4, port, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        conn = accept(listener)
        with conn:
            client.stdin.close()
            assert recv_until_eof(conn) == b""
            with pytest.raises(subprocess.TimeoutExpired):
                client.wait(0.5)  # a bounded wait for something that must not happen


def test_recv_only_never_reads_stdin_nor_half_closes(procs):
    """stdin is a pipe that never ends and holds data: --recv-only sends none of it, sends no
    FIN, and ends when the peer closes."""
    listener, port = tcp_listener()
    with listener:
        client = procs.sockcat("connect", "--recv-only", LOOP4, port, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE)
        client.stdin.write(b"must not be sent\n")
        client.stdin.flush()
        conn = accept(listener)
        with conn:
            assert not sees_eof_within(conn, 0.3)  # nothing arrives: no data, no FIN
            conn.sendall(b"from the peer\n")
            conn.shutdown(socket.SHUT_WR)
            assert wait_exit(client, 10) == 0
            assert client.stdout.read() == b"from the peer\n"
            assert recv_until_eof(conn) == b""  # sockcat closed without sending a byte of stdin
    client.stdin.close()


def test_listen_recv_only_with_socat_as_the_client(start_server):
    if not shutil.which("socat"):
        pytest.skip("socat is not installed")
    server = start_server("listen", "-v", "-p", "0", "--recv-only", "--stats", stdin=subprocess.PIPE)
    result = subprocess.run(["socat", "-u", "-", f"TCP:127.0.0.1:{server.port}"], input=b"via socat\n",
                            capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert server.wait(10) == 0, server.stderr()
    assert server.proc.stdout.read() == b"via socat\n"
    assert stats_of(server.stderr()) == (0, 10)


# -o / -x / --append-output ---------------------------------------------------------------------

def test_output_file_holds_both_directions_in_order_sha256(procs, tmp_path):
    """3 MiB sent, then 1 MiB received after our half-close: -o holds exactly both, in order."""
    sent = random_bytes(3 * MIB, seed=11)
    reply = random_bytes(1 * MIB, seed=12)
    (tmp_path / "in").write_bytes(sent)
    listener, port = tcp_listener()
    with listener:
        peer = background(serve, listener, reply)
        with open(tmp_path / "in", "rb") as stdin:
            client = procs.sockcat("connect", "-o", tmp_path / "wire", "--stats", LOOP4, port, stdin=stdin,
                                   stdout=subprocess.PIPE)
            out, err = client.communicate(timeout=60)
        assert peer.join(30) == sent
    assert client.returncode == 0, err
    assert sha256(out) == sha256(reply)
    assert sha256((tmp_path / "wire").read_bytes()) == sha256(sent + reply)
    assert stats_of(err) == (len(sent), len(reply))


def test_hex_dump_marks_each_direction_and_matches_the_bytes(procs, tmp_path):
    sent = b"hello\n" + bytes(range(256))
    reply = b"bye\r\n\x00\xff"
    listener, port = tcp_listener()
    with listener:
        peer = background(serve, listener, reply)
        client = procs.sockcat("connect", "-x", tmp_path / "dump", LOOP4, port, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE)
        out, err = client.communicate(sent, timeout=30)
        assert peer.join(30) == sent
    assert client.returncode == 0, err
    assert out == reply
    text = (tmp_path / "dump").read_text()
    assert parse_hex_dump(text) == {">": sent, "<": reply}
    assert text.splitlines()[0].startswith("> 00000000  68 65 6c 6c 6f 0a ")


def test_listen_hex_dump_and_output_together(start_server, tmp_path):
    server = start_server("listen", "-v", "-p", "0", "-o", str(tmp_path / "raw"), "-x", str(tmp_path / "dump"),
                          stdin=subprocess.PIPE)
    server.proc.stdin.write(b"from listen\n")
    server.proc.stdin.close()
    with socket.create_connection((LOOP4, server.port), timeout=10) as conn:
        conn.sendall(b"from client\n")
        conn.shutdown(socket.SHUT_WR)
        assert recv_until_eof(conn) == b"from listen\n"
    assert server.wait(10) == 0, server.stderr()
    assert server.proc.stdout.read() == b"from client\n"
    streams = parse_hex_dump((tmp_path / "dump").read_text())
    assert streams == {">": b"from listen\n", "<": b"from client\n"}
    raw = (tmp_path / "raw").read_bytes()
    assert sorted([raw[:12], raw[12:]]) == sorted([b"from listen\n", b"from client\n"])


def test_output_truncates_unless_append_output(procs, tmp_path):
    wire = tmp_path / "wire"
    wire.write_bytes(b"old content that must go\n")

    def one_session(payload, *extra):
        listener, port = tcp_listener()
        with listener:
            peer = background(serve, listener, b"")
            result = subprocess.run([SOCKCAT, "connect", "-o", str(wire), *extra, LOOP4, str(port)],
                                    input=payload, capture_output=True, timeout=30)
            assert peer.join(30) == payload
        assert result.returncode == 0, result.stderr

    one_session(b"first\n")
    assert wire.read_bytes() == b"first\n"
    one_session(b"second\n", "--append-output")
    assert wire.read_bytes() == b"first\nsecond\n"
    one_session(b"third\n")
    assert wire.read_bytes() == b"third\n"


def test_unwritable_output_file_exits_1_before_connecting(tmp_path):
    listener, port = tcp_listener()
    with listener:
        for option in ("-o", "-x"):
            result = subprocess.run([SOCKCAT, "connect", option, str(tmp_path / "no" / "such" / "dir"), LOOP4,
                                     str(port)], input=b"never sent", capture_output=True, timeout=30)
            assert result.returncode == 1
            assert_one_error_line(result.stderr, "cannot open", option, "No such file")
            assert result.stdout == b""
        readable, _, _ = select.select([listener], [], [], 0)
        assert not readable, "sockcat connected although its -o/-x file could not be opened"


def test_output_write_failure_keeps_relaying_and_exits_1(procs):
    """-o /dev/full: one line, logging stops, every byte still reaches the peer; exit 1."""
    data = random_bytes(300 * 1024, seed=13)
    listener, port = tcp_listener()
    with listener:
        peer = background(serve, listener, b"")
        result = subprocess.run([SOCKCAT, "connect", "-o", "/dev/full", LOOP4, str(port)], input=data,
                                capture_output=True, timeout=30)
        assert peer.join(30) == data
    assert result.returncode == 1
    assert_one_error_line(result.stderr, "/dev/full", "logging stopped")


# --stats / --progress -------------------------------------------------------------------------

def test_stats_counts_equal_the_sizes_both_ways(procs, tmp_path):
    sent = random_bytes(2 * MIB + 17, seed=21)
    reply = random_bytes(MIB + 3, seed=22)
    listener, port = tcp_listener()
    with listener:
        peer = background(serve, listener, reply, False)
        result = subprocess.run([SOCKCAT, "connect", "--stats", LOOP4, str(port)], input=sent,
                                capture_output=True, timeout=30)
        assert peer.join(30) == sent
    assert result.returncode == 0, result.stderr
    assert result.stdout == reply
    assert stats_of(result.stderr) == (len(sent), len(reply))
    assert len(stderr_lines(result.stderr)) == 1  # without -v, only the stats line


def test_stats_is_printed_on_a_failure_exit_too():
    result = subprocess.run([SOCKCAT, "connect", "--stats", LOOP4, str(unused_port())], input=b"x",
                            capture_output=True, timeout=30)
    assert result.returncode == 1
    assert any("refused" in line.lower() for line in stderr_lines(result.stderr)), result.stderr
    assert stats_of(result.stderr) == (0, 0)


def strace_calls(argv, stdin_path, syscalls):
    """Runs `argv` under strace; returns (exit status, {syscall: successful calls})."""
    if not shutil.which("strace"):
        pytest.skip("strace is not installed")
    # LeakSanitizer cannot run under ptrace (sanitizer builds): leave leak checks to the other tests.
    asan_options = os.environ.get("ASAN_OPTIONS", "")
    env = dict(os.environ, ASAN_OPTIONS=(asan_options + ":" if asan_options else "") + "detect_leaks=0")
    with open(stdin_path, "rb") as stdin:
        result = subprocess.run(["strace", "-f", "-qq", "-e", "trace=" + ",".join(syscalls), "-o", "/dev/stderr",
                                 *argv], stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                timeout=60, env=env)
    text = result.stderr.decode(errors="replace")
    if "ptrace" in text and "Operation not permitted" in text:
        pytest.skip("strace may not trace here")
    counts = {name: len(re.findall(r"\b%s\(.*\)\s+= [1-9]" % name, text)) for name in syscalls}
    return result.returncode, counts, text


def test_stats_keeps_the_zero_copy_path_and_output_leaves_it(procs, tmp_path):
    """stdin a regular file: the relay sends it with sendfile(2) under --stats (counting only),
    and with read/write under -o (which must see every byte)."""
    data = random_bytes(4 * MIB, seed=23)
    (tmp_path / "in").write_bytes(data)
    for extra, zero_copy in ((["--stats"], True), (["-o", str(tmp_path / "wire")], False)):
        listener, port = tcp_listener()
        with listener:
            peer = background(serve, listener, b"")
            status, counts, text = strace_calls([SOCKCAT, "connect", *extra, LOOP4, str(port)], tmp_path / "in",
                                                ["sendfile", "read"])
            assert peer.join(30) == data
        assert status == 0, text[-2000:]
        if zero_copy:
            assert counts["sendfile"] > 0, f"--stats left the sendfile path: {counts}"
            assert stats_of(text) == (len(data), 0)
        else:
            assert counts["sendfile"] == 0, f"-o must see the bytes, yet sendfile ran: {counts}"
            assert (tmp_path / "wire").read_bytes() == data


def test_progress_forced_without_a_terminal_prints_plain_lines(procs, tmp_path):
    """stderr a pipe: --progress prints whole lines (no carriage returns); with stdin a regular
    file the size is known, and the last line reaches 100%."""
    data = random_bytes(MIB, seed=31)
    (tmp_path / "in").write_bytes(data)
    listener, port = tcp_listener()
    with listener:
        peer = background(serve, listener, b"")
        with open(tmp_path / "in", "rb") as stdin:
            result = subprocess.run([SOCKCAT, "connect", "--progress", LOOP4, str(port)], stdin=stdin,
                                    capture_output=True, timeout=30)
        assert peer.join(30) == data
    assert result.returncode == 0, result.stderr
    assert b"\r" not in result.stderr and b"\x1b" not in result.stderr
    lines = stderr_lines(result.stderr)
    assert lines, "no progress line"
    progress = re.compile(r"^sockcat: sent [\d.]+ [KMG]?i?B of 1\.0 MiB \((\d+)%(, ETA \d+:\d\d)?\), "
                          r"received 0 B, [\d.]+ [KMG]?i?B/s$")
    for line in lines:
        assert progress.match(line), line
    assert progress.match(lines[-1]).group(1) == "100"


def test_progress_on_a_terminal_rewrites_one_line(procs, tmp_path):
    """stderr a terminal: the display is rewritten in place (\\r, clear to end of line) and
    ends with a newline, and a line printed after it (--stats) starts on its own line."""
    master, slave = os.openpty()
    listener, port = tcp_listener()
    with listener:
        peer = background(serve, listener, b"back")
        client = procs.sockcat("connect", "--progress", "--stats", "-d", "100ms", LOOP4, port,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        out, _ = client.communicate(b"a\nb\nc\nd\ne\n", timeout=30)
        assert peer.join(30) == b"a\nb\nc\nd\ne\n"
    text = b""
    while True:  # read the terminal until the child's side is closed (EIO) or quiet
        readable, _, _ = select.select([master], [], [], 5)
        if not readable:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        text += chunk
    os.close(master)
    assert client.returncode == 0, text
    assert out == b"back"
    assert text.count(b"\rsockcat: sent ") >= 2, text  # 0.4 s of pauses: at least one update and the last
    assert b"\x1b[K" in text
    last_progress, stats = text.rsplit(b"\rsockcat: sent ", 1)[1].split(b"\n", 1)
    assert b"sent 10 B" in b"sent " + last_progress, text
    assert re.match(rb"\r?sockcat: sent 10 bytes, received 4 bytes in ", stats.lstrip(b"\r")), text


def read_terminal(master):
    """Everything written to a pty's other side until it is closed (EIO) or quiet for 5 s."""
    text = b""
    while True:
        readable, _, _ = select.select([master], [], [], 5)
        if not readable:
            return text
        try:
            chunk = os.read(master, 65536)
        except OSError:
            return text
        if not chunk:
            return text
        text += chunk


def download_watched_from_a_terminal(tmp_path, procs, pause):
    """connect > file with stderr a terminal and no --progress; the peer sends 64 KiB, waits
    `pause` seconds (the length of the transfer is what is under test), sends 64 KiB more and
    closes. Returns (what the terminal showed, the file's bytes)."""
    first, second = random_bytes(64 * 1024, seed=41), random_bytes(64 * 1024, seed=42)
    master, slave = os.openpty()
    listener, port = tcp_listener()

    def slow_peer():
        conn = accept(listener, timeout=20)
        with conn:
            conn.sendall(first)
            time.sleep(pause)
            conn.sendall(second)
            conn.shutdown(socket.SHUT_WR)
            return recv_until_eof(conn, timeout=30)

    with listener, open(tmp_path / "download", "wb") as out:
        peer = background(slow_peer)
        client = procs.sockcat("connect", LOOP4, port, stdin=subprocess.DEVNULL, stdout=out, stderr=slave)
        os.close(slave)
        text = read_terminal(master)
        client.wait(timeout=30)
        assert peer.join(30) == b""
    os.close(master)
    assert client.returncode == 0, text
    return text, (tmp_path / "download").read_bytes(), first + second


def test_a_long_download_watched_from_a_terminal_shows_progress_by_itself(procs, tmp_path):
    text, got, sent = download_watched_from_a_terminal(tmp_path, procs, pause=1.6)
    assert got == sent
    assert b"\rsockcat: sent 0 B, received " in text, text
    last = text.rsplit(b"\rsockcat: sent ", 1)[1]
    assert b"received 128.0 KiB" in last, text


def test_a_short_download_shows_no_progress(procs, tmp_path):
    text, got, sent = download_watched_from_a_terminal(tmp_path, procs, pause=0)
    assert got == sent
    assert text == b"", text


# UDP --------------------------------------------------------------------------------------------

def udp_upper_server():
    """A Python UDP peer that answers each datagram in capitals; returns (socket, port, thread)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOOP4, 0))
    sock.settimeout(10)
    seen = []

    def answer(count):
        for _ in range(count):
            data, sender = sock.recvfrom(65536)
            seen.append(data)
            sock.sendto(data.upper(), sender)
        return seen

    return sock, sock.getsockname()[1], answer


def test_udp_connect_crlf_and_delay_send_one_datagram_per_line(tmp_path):
    sock, port, answer = udp_upper_server()
    with sock:
        peer = background(answer, 3)
        result = subprocess.run([SOCKCAT, "connect", "-u", "-C", "-d", "50ms", "-q", "300ms", "-x",
                                 str(tmp_path / "dump"), "--stats", LOOP4, str(port)],
                                input=b"one\ntwo\r\nthree\n", capture_output=True, timeout=30)
        assert peer.join(30) == [b"one\r\n", b"two\r\n", b"three\r\n"]
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"ONE\r\nTWO\r\nTHREE\r\n"
    streams = parse_hex_dump((tmp_path / "dump").read_text())
    assert streams == {">": b"one\r\ntwo\r\nthree\r\n", "<": b"ONE\r\nTWO\r\nTHREE\r\n"}
    assert stats_of(result.stderr) == (17, 17)


def test_udp_connect_send_only_does_not_linger():
    sock, port, answer = udp_upper_server()
    with sock:
        peer = background(answer, 1)
        started = time.monotonic()
        result = subprocess.run([SOCKCAT, "connect", "-u", "--send-only", LOOP4, str(port)], input=b"hi",
                                capture_output=True, timeout=30)
        elapsed = time.monotonic() - started
        assert peer.join(30) == [b"hi"]
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    assert elapsed < 0.9, f"--send-only lingered {elapsed:.2f} s (the default linger is 1 s)"


# --- listen -u: -C, --send-only, --recv-only ---------------------------------------------------

def udp_sender():
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind((LOOP4, 0))
    sender.settimeout(5)
    return sender


def test_udp_listen_crlf_converts_stdin_lf_for_the_latest_sender(start_server):
    server = start_server("listen", "-u", "-v", "-C", "-p", "0", stdin=subprocess.PIPE)
    with udp_sender() as sender:
        sender.sendto(b"hello\n", (LOOP4, server.port))
        assert read_until(server.proc.stdout, lambda d: d.endswith(b"\n")) == b"hello\n"  # arrives unchanged
        server.proc.stdin.write(b"one\ntwo\r\n")
        server.proc.stdin.flush()
        assert sender.recv(100) == b"one\r\ntwo\r\n"


def test_udp_listen_send_only_discards_arrivals_and_ends_with_stdin(start_server):
    server = start_server("listen", "-u", "-v", "--send-only", "-p", "0", stdin=subprocess.PIPE)
    with udp_sender() as sender:
        sender.sendto(b"discarded\n", (LOOP4, server.port))
        wait_log(server, r"datagrams from 127\.0\.0\.1:%d" % sender.getsockname()[1])
        server.proc.stdin.write(b"to you\n")
        server.proc.stdin.close()
        assert sender.recv(100) == b"to you\n"
        assert server.wait(10) == 0
    assert server.proc.stdout.read() == b""


def test_udp_listen_recv_only_never_reads_stdin(start_server):
    server = start_server("listen", "-u", "-v", "--recv-only", "-p", "0", stdin=subprocess.PIPE)
    with udp_sender() as sender:
        server.proc.stdin.write(b"never sent\n")
        server.proc.stdin.flush()
        sender.sendto(b"printed\n", (LOOP4, server.port))
        assert read_until(server.proc.stdout, lambda d: d.endswith(b"\n")) == b"printed\n"
        sender.settimeout(0.3)
        with pytest.raises(socket.timeout):
            sender.recv(100)
