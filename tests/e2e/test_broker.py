"""listen --broker and --chat against the real binary: every client's data reaches every
other client and never itself; chat lines are labelled <userN> with terminal controls
stripped; a slower reader holds the senders back (nothing is lost), while one that stops
reading is dropped instead of stalling the others for good; -m and -i hold. The broker's own
stdin goes to every client (<user0> with --chat) and its end ends nothing; --recv-only leaves
stdin alone, --send-only relays stdin alone and ends with it."""
import os
import pty
import re
import select
import signal
import socket
import subprocess

from conftest import SOCKCAT, wait_log, wait_until
from helpers_tcp import (LOOP4, background, connect, random_bytes, recv_exact, recv_until_eof, sees_eof_within,
                         sha256)



def join(server, joined_before):
    """Connects a client and waits for the server's 'connection from' line for it."""
    sock = connect(LOOP4, server.port)
    wait_log(server, r"connection from 127\.0\.0\.1:%d\b" % sock.getsockname()[1])
    wait_log(server, r"connection from \S+:\d+( as <user\d+>)?\n", count=joined_before + 1)
    return sock


def join_stalled(server, joined_before):
    """join() for a client with a 4 KiB receive buffer that will never read: the one a broker
    must drop. Returns (its socket, its port)."""
    stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.settimeout(10)
    stalled.connect((LOOP4, server.port))
    wait_log(server, r"connection from \S+:\d+\n", count=joined_before + 1)
    return stalled, stalled.getsockname()[1]


def read_line(sock, timeout=10):
    """One line (with its newline) from `sock`, a byte at a time so nothing after it is taken."""
    sock.settimeout(timeout)
    line = b""
    while not line.endswith(b"\n"):
        byte = sock.recv(1)
        assert byte, f"EOF after {line!r}"
        line += byte
    return line


def start_broker(start_server, *extra, **kwargs):
    return start_server("listen", "-v", "-p", "0", *extra, **kwargs)


def test_broker_gives_each_clients_data_to_all_others_and_not_back(start_server):
    server = start_broker(start_server, "--broker")
    clients = [join(server, index) for index in range(3)]
    try:
        for round_number in range(3):
            for index, sender in enumerate(clients):
                message = b"round %d from client %d\n" % (round_number, index)
                sender.sendall(message)
                for other, receiver in enumerate(clients):
                    if other != index:
                        assert recv_exact(receiver, len(message)) == message
        # Had a sender got its own data back, it would have come before the next message.
        for index, client in enumerate(clients):
            assert not sees_eof_within(client, 0.05)
    finally:
        for client in clients:
            client.close()
    wait_log(server, r"closed \(received \d+ bytes", count=3)


def test_broker_sends_stdin_to_every_client_and_goes_on_after_its_end(start_server):
    server = start_broker(start_server, "--broker", "-v", stdin=subprocess.PIPE)
    stdin = server.proc.stdin
    stdin.write(b"waiting in the pipe\n")  # read only once a client is connected
    stdin.flush()
    first = join(server, 0)
    assert recv_exact(first, 20) == b"waiting in the pipe\n"
    second = join(server, 1)
    with first, second:
        stdin.write(b"FROM STDIN\n")
        stdin.flush()
        for client in (first, second):
            assert recv_exact(client, 11) == b"FROM STDIN\n"
        stdin.close()
        wait_log(server, r"stdin ended; the broker goes on")
        first.sendall(b"between clients")
        assert recv_exact(second, 15) == b"between clients"
        with join(server, 2) as third:
            second.sendall(b"to the newcomer")
            assert recv_exact(third, 15) == b"to the newcomer"
            assert recv_exact(first, 15) == b"to the newcomer"
    wait_log(server, r"closed \(", count=3)
    server.signal(signal.SIGTERM)
    assert server.wait(10) == 143
    assert server.proc.stdout.read() == b""  # what clients send is not written out, as in ncat


def test_chat_labels_stdin_lines_as_user0(start_server):
    server = start_broker(start_server, "--chat", stdin=subprocess.PIPE)
    with join(server, 0) as client:
        assert read_line(client) == b"<announce> you are <user1>, with 0 others\n"
        server.proc.stdin.write(b"hello \x1b[31mall\n" + b"no newline, then EOF")
        server.proc.stdin.close()
        assert read_line(client) == b"<user0> hello all\n"
        assert read_line(client) == b"<user0> no newline, then EOF\n"


def test_broker_recv_only_never_reads_stdin(start_server):
    server = start_broker(start_server, "--broker", "--recv-only", stdin=subprocess.PIPE)
    server.proc.stdin.write(b"FROM STDIN\n")
    server.proc.stdin.flush()
    first, second = join(server, 0), join(server, 1)
    with first, second:
        first.sendall(b"between clients only")
        # Had stdin been sent to the clients, its bytes would come first.
        assert recv_exact(second, 20) == b"between clients only"
    wait_log(server, r"closed \(", count=2)


def test_broker_send_only_relays_stdin_alone_and_ends_with_it(start_server):
    server = start_broker(start_server, "--broker", "--send-only", "-v", stdin=subprocess.PIPE)
    quiet, talker = join(server, 0), join(server, 1)
    with quiet, talker:
        quiet.shutdown(socket.SHUT_WR)  # a receiver started with </dev/null half-closes at once
        wait_log(server, r"half-closed: it still gets stdin")
        talker.sendall(b"not relayed\n")
        server.proc.stdin.write(b"broadcast\n")
        server.proc.stdin.flush()
        for client in (quiet, talker):
            assert recv_exact(client, 10) == b"broadcast\n"
        server.proc.stdin.write(b"last\n")
        server.proc.stdin.close()
        for client in (quiet, talker):
            assert recv_until_eof(client, 10) == b"last\n"
    assert server.wait(10) == 0
    assert "--send-only closes every client and ends" in server.stderr()


def test_broker_stdin_waits_for_a_slow_client_and_a_stalled_one_is_dropped(start_server):
    server = start_broker(start_server, "--broker", stdin=subprocess.PIPE)
    reader = join(server, 0)
    stalled, stalled_port = join_stalled(server, 1)
    payload = random_bytes(24 << 20, seed=7)

    def feed():
        server.proc.stdin.write(payload)
        server.proc.stdin.flush()

    try:
        feeding = background(feed)
        received = recv_exact(reader, len(payload), timeout=60)
        feeding.join(60)
        assert sha256(received) == sha256(payload)
        wait_log(server, r"connection from 127\.0\.0\.1:%d dropped: .*not reading" % stalled_port)
    finally:
        for sock in (reader, stalled):
            sock.close()


def test_broker_client_eof_closes_it_after_what_is_queued(start_server):
    server = start_broker(start_server, "--broker")
    leaving, staying = join(server, 0), join(server, 1)
    with leaving, staying:
        leaving.sendall(b"last words")
        leaving.shutdown(socket.SHUT_WR)
        assert recv_exact(staying, 10) == b"last words"
        assert sees_eof_within(leaving, 5)
        staying.sendall(b"still here")  # nobody to hear it; the server must not mind
    wait_log(server, r"closed \(", count=2)


def test_chat_labels_lines_and_strips_terminal_controls(start_server):
    server = start_broker(start_server, "--chat")
    clients, names = [], []
    for index in range(3):
        client = join(server, index)
        greeting = read_line(client)
        match = re.fullmatch(rb"<announce> you are (<user\d+>), with %d others?\n" % index, greeting)
        assert match, greeting
        names.append(match.group(1))
        for earlier in clients:
            assert read_line(earlier) == b"<announce> %s has joined\n" % match.group(1)
        clients.append(client)
    assert names == [b"<user1>", b"<user2>", b"<user3>"]
    try:
        sender = clients[0]
        # Colours, a title change, a bell, a carriage return, a C1 CSI and a DEL are removed;
        # TAB and UTF-8 stay. The line arrives in pieces and is relayed whole.
        sender.sendall(b"hi \x1b[31mthere\x1b[0m\x1b]0;pwned\x07\x07 caf\xc3\xa9\t")
        sender.sendall(b"\xc2\x9b2Jok\x7f\r\nsecond line\n")
        for receiver in clients[1:]:
            assert read_line(receiver) == b"<user1> hi there caf\xc3\xa9\tok\n"
            assert read_line(receiver) == b"<user1> second line\n"
        clients[2].sendall(b"no newline, then leaving")
        clients[2].close()
        for receiver in clients[:2]:
            assert read_line(receiver) == b"<user3> no newline, then leaving\n"
            assert read_line(receiver) == b"<announce> <user3> has left\n"
        # The sender got nothing of its own: the next thing it reads is user2's line.
        clients[1].sendall(b"from two\n")
        assert read_line(clients[0]) == b"<user2> from two\n"
    finally:
        for client in clients:
            client.close()


def test_a_client_that_does_not_read_is_dropped_and_the_others_go_on(start_server):
    server = start_broker(start_server, "--broker")
    sender = join(server, 0)
    reader = join(server, 1)
    stalled, stalled_port = join_stalled(server, 2)
    payload = random_bytes(24 << 20, seed=5)
    try:
        sending = background(sender.sendall, payload)
        received = recv_exact(reader, len(payload), timeout=60)
        sending.join(60)
        assert sha256(received) == sha256(payload)
        wait_log(server, r"connection from 127\.0\.0\.1:%d dropped: .*not reading" % stalled_port)
        # The reader is still served after the stalled client was dropped.
        sender.sendall(b"after the drop")
        assert recv_exact(reader, 14) == b"after the drop"
    finally:
        for sock in (sender, reader, stalled):
            sock.close()


def test_broker_max_conns(start_server):
    server = start_broker(start_server, "--broker", "-m", "2")
    first, second = join(server, 0), join(server, 1)
    third = connect(LOOP4, server.port)
    with first, second, third:
        wait_log(server, r"refused: 2 clients already \(-m\)")
        third.settimeout(5)
        try:
            assert third.recv(100) == b""
        except ConnectionResetError:
            pass
        first.sendall(b"two only")
        assert recv_exact(second, 8) == b"two only"


def test_broker_idle_timeout_closes_a_silent_client(start_server):
    server = start_broker(start_server, "--broker", "-i", "300ms")
    quiet = join(server, 0)
    with quiet:
        assert sees_eof_within(quiet, 5)
    wait_log(server, r"idle too long \(-i\)")


def test_broker_in_the_background_of_a_terminal_leaves_it_unread_and_keeps_serving(tmp_path):
    # An interactive bash on a pseudo-terminal starts the broker with &: job control gives it
    # its own process group, not the terminal's foreground one, and the terminal as stdin.
    # Reading it would stop the broker with SIGTTIN as soon as a client came.
    errors, pid_file = tmp_path / "err", tmp_path / "pid"
    command = f"{SOCKCAT} listen -v -p 0 --broker 2>{errors} & echo $! > {pid_file}; wait"
    shell, terminal = pty.fork()
    if shell == 0:
        os.execvp("bash", ["bash", "--norc", "--noprofile", "-i", "-c", command])
    broker = None
    try:
        def listening():
            while select.select([terminal], [], [], 0)[0] and os.read(terminal, 4096):
                pass  # keep the terminal's output drained
            text = errors.read_text() if errors.exists() else ""
            return pid_file.exists() and pid_file.read_text().strip() and re.search(r"listening on \S+:(\d+)", text)
        found = wait_until(listening)
        assert found, "the broker never reported its port"
        broker = int(pid_file.read_text())
        port = int(found.group(1))
        first, second = connect(LOOP4, port), connect(LOOP4, port)
        with first, second:
            assert wait_until(lambda: errors.read_text().count("connection from") == 2)
            first.sendall(b"still serving")
            assert recv_exact(second, 13) == b"still serving"
        with open(f"/proc/{broker}/stat") as stat:
            assert stat.read().rsplit(")", 1)[1].split()[0] not in ("T", "t", "Z")
    finally:
        if broker is not None:
            os.kill(broker, signal.SIGTERM)
        if not wait_until(lambda: os.waitpid(shell, os.WNOHANG)[0], 10):
            os.kill(shell, signal.SIGTERM)
            os.waitpid(shell, 0)
        os.close(terminal)
