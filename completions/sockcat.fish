# fish completion for sockcat. Installed in share/fish/vendor_completions.d. Keep the option
# lists in step with `sockcat listen --help` and `sockcat connect --help`
# (tests/e2e/test_docs.py checks them). Transform names come from the binary at completion
# time (`sockcat listen --list-transforms`), so they are never listed here.

# Prints "name<TAB>help" for each transform of the sockcat being completed.
function __sockcat_transforms
    set -l command (commandline -opc)[1]
    set -q command[1]; or set command sockcat
    command $command listen --list-transforms 2>/dev/null | string replace -r '^(\S+)\s+(.*)$' '$1\t$2'
end

# Prints the letters of the short options that take a value (a bundle like -vw ends there).
function __sockcat_valued_letters
    echo qdoxecpbmiswX
end

# Succeeds if --proxy was given (sockcat is then a proxy's client, on listen too).
function __sockcat_has_proxy
    string match -q -r -- '^--proxy(=|$)' (commandline -opc)
end

# Prints "type<TAB>help" for each proxy type: the four a proxy client speaks, or on listen
# without --proxy (a proxy server) the two sockcat serves.
function __sockcat_proxy_types
    if __sockcat_reads listen; and not __sockcat_has_proxy
        printf '%s\t%s\n' socks5 'Be a SOCKS5 proxy server (CONNECT)' http 'Be an HTTP CONNECT proxy server'
    else
        printf '%s\t%s\n' socks4 'SOCKS4 (the target resolved here)' socks4a 'SOCKS4a (the proxy resolves the target)' \
            socks5 'SOCKS5' http 'HTTP CONNECT (the default)'
    end
end

# Succeeds if nc's -x names the proxy: in the nc style, with -X given (OpenBSD nc's spelling).
function __sockcat_x_is_proxy
    __sockcat_reads nc; and __fish_contains_opt -s X
end

# Prints how the words before the cursor read, one word a line: listen or connect (by the
# subcommand, or in the nc style by -l/--listen anywhere, else connect), nc for the nc style
# (sockcat(1), "nc-style command lines"), help, and first while the first word is typed
# (an option there starts the nc style).
function __sockcat_reading
    set -l tokens (commandline -opc)
    if not set -q tokens[2]
        printf '%s\n' first nc connect
        return
    end
    switch $tokens[2]
        case listen connect help
            echo $tokens[2]
        case -h --help -V --version
        case '-*'
            echo nc
            set -l valued (__sockcat_valued_letters)
            for token in $tokens[2..-1]
                # an l in a bundle before any option that takes a value: -lvp, -ul, not -olog
                if test "$token" = --listen; or string match -qr -- "^-[^-$valued]*l" $token
                    echo listen
                    return
                end
            end
            echo connect
    end
end

# Succeeds if __sockcat_reading prints every word given.
function __sockcat_reads
    set -l reading (__sockcat_reading)
    for word in $argv
        contains -- $word $reading; or return 1
    end
end

# Succeeds while the word being completed is connect's positional argument number $argv[1]
# (1 HOST, 2 PORT), by subcommand or in the nc style, and -U was not given. Option values
# are skipped: a valued long option, or a short bundle whose first valued option ends it.
function __sockcat_connect_wants
    __sockcat_reads connect; and not __sockcat_reads first; or return 1
    __fish_contains_opt -s U unixsock; and return 1
    set -l tokens (commandline -opc)
    set -l first 2
    test $tokens[2] = connect; and set first 3
    set -l valued (__sockcat_valued_letters)
    set -l positional 0
    set -l skip 0
    for token in $tokens[$first..-1]
        if test $skip = 1
            set skip 0
        else if string match -qr -- '^--(source|source-port|wait|quit-after|framing|max-message|exec|sh-exec|delay|output|hex-dump|idle-timeout|ssl-cert|ssl-key|ssl-trustfile|ssl-alpn|ssl-ciphers|ssl-min-version|ssl-handshake-timeout|ssl-servername|ssl-pin|proxy|proxy-type|proxy-auth|proxy-dns)$' $token
            set skip 1
        else if string match -qr -- "^-[^-$valued]*[$valued]\$" $token
            set skip 1
        else if not string match -q -- '-?*' $token
            set positional (math $positional + 1)
        end
    end
    test $positional = (math $argv[1] - 1)
end

# Prints "name<TAB>port/protocol" for each service in /etc/services of the protocol in use
# (udp with -u, else tcp).
function __sockcat_services
    set -l protocol tcp
    __fish_contains_opt -s u udp; and set protocol udp
    string replace -rf -- "^([^#\s]\S*)\s+(\d+/$protocol)\b.*" '$1\t$2' </etc/services
end

complete -c sockcat -f

# Subcommands, and what sockcat takes without one.
complete -c sockcat -n '__sockcat_reads first' -a listen -d 'Wait for a connection (or datagrams) on a local port'
complete -c sockcat -n '__sockcat_reads first' -a connect -d 'Connect to HOST PORT and relay stdin/stdout'
complete -c sockcat -n '__sockcat_reads first' -a help -d 'Print the help of sockcat or of one subcommand'
complete -c sockcat -n '__sockcat_reads first' -s V -l version -d 'Print the version and exit'
complete -c sockcat -n '__sockcat_reads help; and test (count (commandline -opc)) = 2' -a 'listen connect'

# Options of both listen and connect.
set -l both '__sockcat_reads listen; or __sockcat_reads connect'
complete -c sockcat -n $both -s u -l udp -d 'Use UDP datagrams instead of a TCP stream'
complete -c sockcat -n $both -s 4 -d 'Use IPv4 only'
complete -c sockcat -n $both -s 6 -d 'Use IPv6 only'
complete -c sockcat -n $both -s U -l unixsock -d 'The argument is a Unix socket PATH (@NAME: abstract)'
complete -c sockcat -n $both -s n -l nodns -d 'Numeric addresses and ports only: no name lookups'
complete -c sockcat -n "$both; and __fish_contains_opt -s U unixsock" -F
complete -c sockcat -n $both -l no-shutdown -d 'Keep the sending side open after stdin ends'
complete -c sockcat -n $both -s q -l quit-after -x -d 'After stdin ends, wait at most DURATION (UDP: the linger)'
complete -c sockcat -n $both -s C -l crlf -d 'Send every LF as CRLF'
complete -c sockcat -n $both -s d -l delay -x -d 'Pause DURATION between the lines sent'
complete -c sockcat -n $both -l send-only -d 'Only send: discard what arrives, end once stdin has ended'
complete -c sockcat -n $both -l recv-only -d 'Only receive: never read stdin, end when the peer closes'
complete -c sockcat -n $both -s o -l output -r -F -d 'Write every byte sent and received to FILE'
complete -c sockcat -n "$both; and not __sockcat_x_is_proxy" -s x -l hex-dump -r -F -d 'Write a hex dump of what is sent and received to FILE'
complete -c sockcat -n __sockcat_x_is_proxy -s x -x -d 'The proxy, HOST:PORT (nc style, with -X)'
complete -c sockcat -n __sockcat_x_is_proxy -l hex-dump -r -F -d 'Write a hex dump of what is sent and received to FILE'
complete -c sockcat -n $both -l append-output -d 'Append to the -o and -x files instead of truncating'
complete -c sockcat -n $both -l progress -d 'Show bytes, rate, percent and ETA during the transfer'
complete -c sockcat -n $both -l stats -d 'Print bytes sent and received and the duration at the end'
complete -c sockcat -n $both -s e -l exec -x -a '(__fish_complete_command)' -d 'Hand the connection to a program (no shell)'
complete -c sockcat -n $both -s c -l sh-exec -x -d 'Hand the connection to /bin/sh -c COMMAND'
complete -c sockcat -n $both -l framing -x -a 'raw line length' -d 'Message boundaries: raw (default), line or length'
complete -c sockcat -n $both -l max-message -x -d 'With --framing line|length: largest message (default 1M)'
complete -c sockcat -n $both -s i -l idle-timeout -x -d 'End when nothing is sent either way for DURATION'
complete -c sockcat -n $both -l ssl -d 'Use TLS over the stream (TCP or -U)'
complete -c sockcat -n $both -l ssl-cert -r -F -d 'Our TLS certificate chain, PEM'
complete -c sockcat -n $both -l ssl-key -r -F -d 'The private key of --ssl-cert, PEM'
complete -c sockcat -n $both -l ssl-trustfile -r -F -d 'Trust the CA certificates in FILE instead of the system store'
complete -c sockcat -n $both -l ssl-alpn -x -d 'ALPN protocols to offer (connect) or accept (listen), comma-separated'
complete -c sockcat -n $both -l ssl-ciphers -x -d 'The ciphers allowed, an OpenSSL cipher list'
complete -c sockcat -n $both -l ssl-min-version -x -a '1.2 1.3' -d 'The lowest TLS version accepted (default 1.2)'
complete -c sockcat -n $both -l ssl-handshake-timeout -x -d 'Give up a TLS handshake not finished within DURATION'
complete -c sockcat -n $both -l proxy -x -d 'Connect through the proxy at HOST[:PORT] (listen: --forward\'s connections)'
complete -c sockcat -n $both -s X -l proxy-type -x -a '(__sockcat_proxy_types)' -d 'The proxy\'s protocol (listen without --proxy: be a proxy server)'
complete -c sockcat -n $both -l proxy-auth -x -d 'USER:PASS for the proxy or its clients (or SOCKCAT_PROXY_AUTH)'
complete -c sockcat -n $both -l proxy-dns -x -a 'remote local' -d 'Who resolves the target through a proxy (default remote)'
complete -c sockcat -n $both -s v -l verbose -d 'Print addresses, connections and byte counts on stderr'
complete -c sockcat -n $both -s h -l help -d 'Print the help of the subcommand and exit'

# Options of listen.
set -l listen '__sockcat_reads listen'
complete -c sockcat -n $listen -s p -l port -x -d 'Local port to listen on (0 picks a free one)'
complete -c sockcat -n $listen -s b -l bind -x -a '(__fish_print_hostnames)' -d 'Local address to bind'
complete -c sockcat -n $listen -l transform -x -a '(__sockcat_transforms)' -d 'How to answer each client'
complete -c sockcat -n $listen -l list-transforms -d 'Print the transforms and exit'
complete -c sockcat -n $listen -s k -l keep-open -d 'Keep accepting clients (none: they share stdin/stdout)'
complete -c sockcat -n $listen -s m -l max-conns -x -d 'Serve at most N clients at once'
complete -c sockcat -n $listen -l allow -x -d 'Serve only peers in these addresses/CIDR ranges'
complete -c sockcat -n $listen -l deny -x -d 'Refuse peers in these addresses/CIDR ranges'
complete -c sockcat -n $listen -l allowfile -r -F -d 'Serve only peers listed in FILE'
complete -c sockcat -n $listen -l denyfile -r -F -d 'Refuse peers listed in FILE'
complete -c sockcat -n $listen -l broker -d 'Relay what each client sends to every other client'
complete -c sockcat -n $listen -l chat -d 'Like --broker, by lines labelled <userN>, controls stripped'
complete -c sockcat -n $listen -l send-file -r -F -d 'Give each client the whole of FILE, then close'
complete -c sockcat -n $listen -l ssl-verify -d 'Require a client certificate signed by --ssl-trustfile'
complete -c sockcat -n $listen -l forward -x -d 'Relay every client to TARGET: HOST:PORT, [IPV6]:PORT or unix:PATH'
complete -c sockcat -n $listen -l forward-ssl -d 'Speak TLS to the --forward target, verified as connect --ssl'
complete -c sockcat -n $listen -l forward-ssl-trustfile -r -F -d 'Verify the --forward target against the CAs in FILE'
complete -c sockcat -n $listen -l forward-ssl-servername -x -d 'The name sent as SNI to the --forward target and verified'
complete -c sockcat -n $listen -l forward-ssl-pin -x -d 'Trust exactly the --forward target certificate with this SHA-256'
complete -c sockcat -n $listen -l forward-ssl-insecure -d 'Verify nothing about the TLS of the --forward target'
complete -c sockcat -n $listen -l proxy-allow -x -d 'Proxy server: reach only these destinations (addresses, ranges, names)'
complete -c sockcat -n $listen -l proxy-deny -x -d 'Proxy server: refuse these destinations (addresses, ranges, names)'
complete -c sockcat -n $listen -l proxy-ports -x -d 'Proxy server: reach only these ports (80,443,8000-8100)'

# Options of connect.
set -l connect '__sockcat_reads connect'
complete -c sockcat -n $connect -s s -l source -x -a '(__fish_print_hostnames)' -d 'Local address to connect from'
complete -c sockcat -n $connect -l source-port -x -d 'Local port to connect from'
complete -c sockcat -n $connect -s w -l wait -x -d 'Give up connecting after DURATION (500ms, 1.5s)'
complete -c sockcat -n $connect -s z -l zero-io -d 'Only check whether the ports accept (22,80,8000-8100)'
complete -c sockcat -n $connect -l ssl-verify -d 'Verify the TLS peer (the default; for ncat command lines)'
complete -c sockcat -n $connect -l ssl-servername -x -a '(__fish_print_hostnames)' -d 'The name sent as SNI and verified (default: HOST)'
complete -c sockcat -n $connect -l ssl-pin -x -d 'Trust exactly the certificate with this SHA-256 fingerprint'
complete -c sockcat -n $connect -l ssl-insecure -d 'Verify nothing about the TLS peer'
complete -c sockcat -n '__sockcat_connect_wants 1' -a '(__fish_print_hostnames)' -d Host
complete -c sockcat -n '__sockcat_connect_wants 2' -a '(__sockcat_services)'

# The nc style: -l, and the letters nc spells differently (-s binds with -l, -p is the
# local port without it).
complete -c sockcat -n '__sockcat_reads nc connect' -s l -l listen -d 'Listen (nc style): sockcat -l [options] [-p] PORT'
complete -c sockcat -n '__sockcat_reads nc listen' -s s -x -a '(__fish_print_hostnames)' -d 'Local address to bind (nc style for -b)'
complete -c sockcat -n '__sockcat_reads nc connect' -s p -x -d 'Local port to connect from (nc style for --source-port)'
