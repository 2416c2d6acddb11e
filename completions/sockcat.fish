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

# Succeeds while the word being completed is connect's HOST (no positional argument yet, no -U).
function __sockcat_connect_wants_host
    set -l tokens (commandline -opc)
    set -l seen 0
    set -l skip 0
    set -l positional 0
    for token in $tokens[2..-1]
        if test $seen = 0
            test $token = connect; and set seen 1
            continue
        end
        if test $skip = 1
            set skip 0
            continue
        end
        switch $token
            case -s --source --source-port -w --wait -i --idle-timeout -q --quit-after --framing --max-message -e --exec -c --sh-exec -d --delay -o --output -x --hex-dump
                set skip 1
            case '-*'
            case '*'
                set positional (math $positional + 1)
        end
    end
    test $seen = 1 -a $positional = 0; and not __fish_contains_opt -s U unixsock
end

complete -c sockcat -f

# Subcommands, and what sockcat takes without one.
complete -c sockcat -n __fish_use_subcommand -a listen -d 'Wait for a connection (or datagrams) on a local port'
complete -c sockcat -n __fish_use_subcommand -a connect -d 'Connect to HOST PORT and relay stdin/stdout'
complete -c sockcat -n __fish_use_subcommand -a help -d 'Print the help of sockcat or of one subcommand'
complete -c sockcat -n __fish_use_subcommand -s h -l help -d 'Print the help and exit'
complete -c sockcat -n __fish_use_subcommand -s V -l version -d 'Print the version and exit'
complete -c sockcat -n '__fish_seen_subcommand_from help; and not __fish_seen_subcommand_from listen connect' -a 'listen connect'

# Options of both listen and connect.
set -l both '__fish_seen_subcommand_from listen connect; and not __fish_seen_subcommand_from help'
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
complete -c sockcat -n $both -s x -l hex-dump -r -F -d 'Write a hex dump of what is sent and received to FILE'
complete -c sockcat -n $both -l append-output -d 'Append to the -o and -x files instead of truncating'
complete -c sockcat -n $both -l progress -d 'Show bytes, rate, percent and ETA during the transfer'
complete -c sockcat -n $both -l stats -d 'Print bytes sent and received and the duration at the end'
complete -c sockcat -n $both -s e -l exec -x -a '(__fish_complete_command)' -d 'Hand the connection to a program (no shell)'
complete -c sockcat -n $both -s c -l sh-exec -x -d 'Hand the connection to /bin/sh -c COMMAND'
complete -c sockcat -n $both -l framing -x -a 'raw line length' -d 'Message boundaries: raw (default), line or length'
complete -c sockcat -n $both -l max-message -x -d 'With --framing line|length: largest message (default 1M)'
complete -c sockcat -n $both -s v -l verbose -d 'Print addresses, connections and byte counts on stderr'
complete -c sockcat -n $both -s h -l help -d 'Print the help of the subcommand and exit'

# Options of listen.
set -l listen '__fish_seen_subcommand_from listen; and not __fish_seen_subcommand_from help'
complete -c sockcat -n $listen -s p -l port -x -d 'Local port to listen on (0 picks a free one)'
complete -c sockcat -n $listen -s b -l bind -x -a '(__fish_print_hostnames)' -d 'Local address to bind'
complete -c sockcat -n $listen -l transform -x -a '(__sockcat_transforms)' -d 'How to answer each client'
complete -c sockcat -n $listen -l list-transforms -d 'Print the transforms and exit'
complete -c sockcat -n $listen -s k -l keep-open -d 'Keep accepting clients (none: they share stdin/stdout)'
complete -c sockcat -n $listen -s m -l max-conns -x -d 'Serve at most N clients at once (0: none)'
complete -c sockcat -n $both -s i -l idle-timeout -x -d 'End a session when no byte moves either way for DURATION'
complete -c sockcat -n $listen -l allow -x -d 'Serve only peers in these addresses/CIDR ranges'
complete -c sockcat -n $listen -l deny -x -d 'Refuse peers in these addresses/CIDR ranges'
complete -c sockcat -n $listen -l allowfile -r -F -d 'Serve only peers listed in FILE'
complete -c sockcat -n $listen -l denyfile -r -F -d 'Refuse peers listed in FILE'
complete -c sockcat -n $listen -l broker -d 'Relay what each client sends to every other client'
complete -c sockcat -n $listen -l chat -d 'Like --broker, by lines labelled <userN>, controls stripped'
complete -c sockcat -n $listen -l send-file -r -F -d 'Give each client the whole of FILE, then close'

# Options of connect.
set -l connect '__fish_seen_subcommand_from connect; and not __fish_seen_subcommand_from help'
complete -c sockcat -n $connect -s s -l source -x -a '(__fish_print_hostnames)' -d 'Local address to connect from'
complete -c sockcat -n $connect -l source-port -x -d 'Local port to connect from'
complete -c sockcat -n $connect -s w -l wait -x -d 'Give up connecting after DURATION (500ms, 1.5s)'
complete -c sockcat -n $connect -s z -l zero-io -d 'Only check whether the ports accept, or with -u answer (22,80,8000-8100)'
complete -c sockcat -n '__sockcat_connect_wants_host' -a '(__fish_print_hostnames)' -d Host
