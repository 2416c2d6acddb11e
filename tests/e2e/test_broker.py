"""listen --broker and --chat against the real binary: every client's data reaches every
other client and never itself; chat lines are labelled <userN> with terminal controls
stripped; a slower reader holds the senders back (nothing is lost), while one that stops
reading is dropped instead of stalling the others for good; -m and -i hold."""
import re
import signal
import socket
import subprocess

from conftest import wait_log, wait_until
from helpers_tcp import LOOP4, background, connect, random_bytes, recv_exact, sees_eof_within, sha256



def join(server, joined_before):
    """Connects a client and waits for the server's 'connection from' line for it."""
    sock = connect(LOOP4, server.port)
    wait_log(server, r"connection from 127\.0\.0\.1:%d\b" % sock.getsockname()[1])
    wait_log(server, r"connection from \S+:\d+( as <user\d+>)?\n", count=joined_before + 1)
    return sock


def read_line(sock, timeout=10):
    """One line (with its newline) from `sock`, a byte at a time so nothing after it is taken."""
    sock.settimeout(timeout)
    line = b""
    while not line.endswith(b"\n"):
        byte = sock.recv(1)
        assert byte, f"EOF after {line!r}"
        line += byte
    return line


def start_broker(start_server, *extra):
    return start_server("listen", "-v", "-p", "0", *extra)


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


def test_broker_does_not_use_stdin_or_stdout(start_server):
    server = start_server("listen", "-v", "-p", "0", "--broker", stdin=subprocess.PIPE)
    server.proc.stdin.write(b"FROM STDIN\n")
    server.proc.stdin.flush()
    first, second = join(server, 0), join(server, 1)
    with first, second:
        first.sendall(b"between clients only")
        # Had stdin been sent to the clients, its bytes would come first.
        assert recv_exact(second, 20) == b"between clients only"
    wait_log(server, r"closed \(", count=2)
    server.signal(signal.SIGTERM)
    assert server.wait(10) == 143
    assert server.proc.stdout.read() == b""


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
    stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.settimeout(10)
    stalled.connect((LOOP4, server.port))
    stalled_port = stalled.getsockname()[1]
    wait_log(server, r"connection from \S+:\d+\n", count=3)
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
