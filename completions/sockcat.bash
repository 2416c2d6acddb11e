# bash completion for sockcat                                   -*- shell-script -*-
#
# Installed as share/bash-completion/completions/sockcat. Keep the option lists in step with
# `sockcat listen --help` and `sockcat connect --help` (tests/e2e/test_docs.py checks them).
# Transform names are not listed here: they come from the binary at completion time.
# --proxy, -X/--proxy-type, --proxy-auth and --proxy-dns are in both lists, as in --help: on
# listen they shape --forward's connections, or (-X without --proxy) make a proxy server.
# An option that takes a value is listed with a trailing '=' (it is offered without it).

_sockcat_common_options='-u --udp -4 -6 -U --unixsock -n --nodns --no-shutdown -q= --quit-after= --framing= --max-message= -e= --exec= -c= --sh-exec= -C --crlf -d= --delay= --send-only --recv-only -o= --output= -x= --hex-dump= --append-output --progress --stats -i= --idle-timeout= --ssl --ssl-cert= --ssl-key= --ssl-trustfile= --ssl-verify --ssl-alpn= --ssl-ciphers= --ssl-min-version= --ssl-handshake-timeout= --proxy= -X= --proxy-type= --proxy-auth= --proxy-dns= -v --verbose -h --help'
_sockcat_listen_options='-p= --port= -b= --bind= --transform= --list-transforms -k --keep-open -m= --max-conns= --allow= --deny= --allowfile= --denyfile= --broker --chat --send-file= --forward= --forward-ssl --forward-ssl-trustfile= --forward-ssl-servername= --forward-ssl-pin= --forward-ssl-insecure --proxy-allow= --proxy-deny= --proxy-ports='
_sockcat_connect_options='-s= --source= --source-port= -w= --wait= -z --zero-io --ssl-servername= --ssl-pin= --ssl-insecure'
# The nc-style command line (no subcommand; "nc-style command lines" in sockcat(1)): -l or
# --listen anywhere means listen, else it connects. With -l, -s is the address to bind;
# without it, -p is the local port to connect from.
_sockcat_nc_options='-l --listen'
_sockcat_nc_listen_options='-s='
_sockcat_nc_connect_options='-p='
_sockcat_all_options=" $_sockcat_common_options $_sockcat_listen_options $_sockcat_connect_options $_sockcat_nc_options "

# Prints the transform names that the sockcat being completed knows, one per line.
_sockcat_transform_names() {
    local sockcat=$1 IFS=$' \t\n'
    [[ $sockcat == "~"* ]] && sockcat=$HOME${sockcat#\~}
    "$sockcat" listen --list-transforms 2>/dev/null | while read -r name _; do
        [[ -n $name ]] && printf '%s\n' "$name"
    done
}

# Prints the service names of protocol $1 (tcp or udp) in /etc/services, one per line.
_sockcat_service_names() {
    awk -v protocol="$1" '$1 !~ /^#/ && $2 ~ ("/" protocol "$") { print $1 }' /etc/services 2>/dev/null
}

# Succeeds if the option word $1 needs the next word as its value: a long option listed with
# '=', or a bundle of short options ("-vw") whose first option taking a value is its last letter.
_sockcat_takes_next() {
    local word=$1 i
    [[ $word == --* ]] && { [[ $_sockcat_all_options == *" $word= "* ]]; return; }
    for ((i = 1; i < ${#word}; i++)); do
        if [[ $_sockcat_all_options == *" -${word:i:1}= "* ]]; then
            ((i == ${#word} - 1))
            return
        fi
    done
    return 1
}

# Succeeds if the option word $1 gives the flag -$2 (or --$3): it is --$3, or a bundle of short
# options holding $2 before any option that takes a value ("-lvp" holds l, "-olog" does not).
_sockcat_holds_flag() {
    local word=$1 letter=$2 long=$3 i
    [[ $word == "--$long" ]] && return 0
    [[ $word == --* ]] && return 1
    for ((i = 1; i < ${#word}; i++)); do
        [[ ${word:i:1} == "$letter" ]] && return 0
        [[ $_sockcat_all_options == *" -${word:i:1}= "* ]] && return 1
    done
    return 1
}

# Reads COMP_WORDS from index $1 up to the word being completed and sets the caller's
# `listen` (-l/--listen given), `udp` (-u), `unix` (-U), `proxy` (--proxy) and `proxy_letter`
# (-X, which makes nc's -x the proxy) to 1 when seen, and `positionals` to the number of
# positional arguments (option values are skipped).
_sockcat_scan_words() {
    local i word options_ended=
    for ((i = $1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if [[ -n $options_ended || $word != -?* ]]; then
            ((positionals++))
        elif [[ $word == -- ]]; then
            options_ended=1
        else
            _sockcat_holds_flag "$word" l listen && listen=1
            _sockcat_holds_flag "$word" u udp && udp=1
            _sockcat_holds_flag "$word" U unixsock && unix=1
            [[ $word == --proxy || $word == --proxy=* ]] && proxy=1
            _sockcat_holds_flag "$word" X "" && proxy_letter=1 # the letter only, as nc has it
            if _sockcat_takes_next "$word"; then
                [[ ${COMP_WORDS[i + 1]} == "=" ]] && ((i++))
                ((i++))
            fi
        fi
    done
}

# Completes word COMP_CWORD of COMP_WORDS into COMPREPLY.
_sockcat() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    local prev=
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    local IFS=$'\n'
    COMPREPLY=()

    # `--opt=value`: bash usually splits it into `--opt`, `=`, `value` (COMP_WORDBREAKS has
    # '='); if it does not, the word stays whole and each reply must keep its `--opt=`.
    local prefix=
    if [[ $cur == "=" ]]; then
        cur=
    elif [[ $prev == "=" ]] && ((COMP_CWORD >= 2)); then
        prev=${COMP_WORDS[COMP_CWORD - 2]}
    elif [[ $cur == --*=* ]]; then
        prev=${cur%%=*}
        prefix=$prev=
        cur=${cur#*=}
    fi

    # The first word: a subcommand, or an option that starts the nc style.
    local first=
    ((COMP_CWORD > 1)) && first=${COMP_WORDS[1]}
    if [[ -z $first && $cur != -* ]]; then
        COMPREPLY=($(IFS=' ' compgen -W 'listen connect help' -- "$cur"))
        return 0
    fi
    if [[ $first == help ]]; then
        ((COMP_CWORD == 2)) && COMPREPLY=($(IFS=' ' compgen -W 'listen connect' -- "$cur"))
        return 0
    fi

    # The words typed so far: after the subcommand, or all of them in the nc style.
    local listen= udp= unix= proxy= proxy_letter= positionals=0 nc=
    case $first in
        listen)
            listen=1
            _sockcat_scan_words 2
            ;;
        connect) _sockcat_scan_words 2 ;;
        -h | --help | -V | --version) return 0 ;;
        -* | "")
            nc=1
            _sockcat_scan_words 1
            ;;
        *) return 0 ;;
    esac
    local subcommand=connect options="$_sockcat_common_options $_sockcat_connect_options"
    [[ -n $nc ]] && options="$options $_sockcat_nc_connect_options $_sockcat_nc_options"
    if [[ -n $listen ]]; then
        subcommand=listen
        options="$_sockcat_common_options $_sockcat_listen_options"
        [[ -n $nc ]] && options="$options $_sockcat_nc_listen_options"
    fi
    [[ -z $first ]] && options="-V --version $options"

    # The option whose value is being completed: the last of a bundle ("-lvp" is -p), in the
    # subcommand's spelling (nc's -s with -l is --bind, its -p without -l --source-port).
    if [[ $prev == -[!-]* ]] && _sockcat_takes_next "$prev"; then
        prev=-${prev: -1}
    fi
    if [[ -n $nc ]]; then
        case $subcommand:$prev in
            listen:-s) prev=--bind ;;
            connect:-p) prev=--source-port ;;
        esac
        # OpenBSD nc's proxy: with -X, -x names the proxy (HOST:PORT, typed), not a file.
        [[ -n $proxy_letter && $prev == -x ]] && prev=--proxy
    fi

    # The value of an option that takes one.
    case $subcommand:$prev in
        listen:--send-file | listen:--forward-ssl-trustfile)
            COMPREPLY=($(compgen -P "$prefix" -f -- "$cur"))
            return 0
            ;;
        listen:--transform)
            COMPREPLY=($(compgen -P "$prefix" -W "$(_sockcat_transform_names "${COMP_WORDS[0]}")" -- "$cur"))
            return 0
            ;;
        *:--framing)
            COMPREPLY=($(IFS=' ' compgen -P "$prefix" -W 'raw line length' -- "$cur"))
            return 0
            ;;
        *:--ssl-min-version)
            COMPREPLY=($(IFS=' ' compgen -P "$prefix" -W '1.2 1.3' -- "$cur"))
            return 0
            ;;
        *:-X | *:--proxy-type)
            # listen without --proxy: the type of the proxy server sockcat becomes
            local types='socks4 socks4a socks5 http'
            [[ $subcommand == listen && -z $proxy ]] && types='socks5 http'
            COMPREPLY=($(IFS=' ' compgen -P "$prefix" -W "$types" -- "$cur"))
            return 0
            ;;
        *:--proxy-dns)
            COMPREPLY=($(IFS=' ' compgen -P "$prefix" -W 'remote local' -- "$cur"))
            return 0
            ;;
        listen:-b | listen:--bind | connect:-s | connect:--source | connect:--ssl-servername)
            COMPREPLY=($(compgen -P "$prefix" -A hostname -- "$cur"))
            return 0
            ;;
        *:-e | *:--exec)
            COMPREPLY=($(compgen -P "$prefix" -c -- "$cur"))
            return 0
            ;;
        listen:--allowfile | listen:--denyfile | *:-o | *:--output | *:-x | *:--hex-dump | \
            *:--ssl-cert | *:--ssl-key | *:--ssl-trustfile)
            COMPREPLY=($(compgen -P "$prefix" -f -- "$cur"))
            return 0
            ;;
    esac
    if [[ $prev == -?* ]] && _sockcat_takes_next "$prev"; then
        return 0 # ports, numbers, durations, addresses, commands, --forward's TARGET, --proxy's
                 # HOST[:PORT], credentials and the --proxy-allow/--proxy-deny/--proxy-ports lists are typed
    fi

    if [[ $cur == -* ]]; then
        COMPREPLY=($(IFS=' ' compgen -W "${options//=/}" -- "$cur"))
        return 0
    fi

    # With -U the argument is a socket's path (or @NAME, typed).
    if [[ -n $unix ]]; then
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$cur"))
        return 0
    fi

    # Positional arguments: connect's HOST is a host name, its PORT a number or a service name.
    if [[ $subcommand == connect ]] && ((positionals == 0)); then
        COMPREPLY=($(compgen -A hostname -- "$cur"))
        return 0
    fi
    if [[ $subcommand == connect ]] && ((positionals == 1)); then
        local protocol=tcp
        [[ -n $udp ]] && protocol=udp
        COMPREPLY=($(compgen -W "$(_sockcat_service_names $protocol)" -- "$cur"))
        return 0
    fi
    COMPREPLY=($(IFS=' ' compgen -W "${options//=/}" -- "$cur"))
    return 0
}

complete -F _sockcat sockcat
