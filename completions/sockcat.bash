# bash completion for sockcat                                   -*- shell-script -*-
#
# Installed as share/bash-completion/completions/sockcat. Keep the option lists in step with
# `sockcat listen --help` and `sockcat connect --help` (tests/e2e/test_docs.py checks them).
# Transform names are not listed here: they come from the binary at completion time.

_sockcat_common_options='-u --udp -4 -6 -U --unixsock -n --nodns --no-shutdown -q --quit-after --framing --max-message -e --exec -c --sh-exec -C --crlf -d --delay --send-only --recv-only -o --output -x --hex-dump --append-output --progress --stats -i --idle-timeout -v --verbose -h --help'
_sockcat_listen_options='-p --port -b --bind --transform --list-transforms -k --keep-open -m --max-conns --allow --deny --allowfile --denyfile --broker --chat --send-file'
_sockcat_connect_options='-s --source --source-port -w --wait -z --zero-io'

# Prints the transform names that the sockcat being completed knows, one per line.
_sockcat_transform_names() {
    local sockcat=$1 IFS=$' \t\n'
    [[ $sockcat == "~"* ]] && sockcat=$HOME${sockcat#\~}
    "$sockcat" listen --list-transforms 2>/dev/null | while read -r name _; do
        [[ -n $name ]] && printf '%s\n' "$name"
    done
}

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

    # The subcommand is the first word after the command name.
    local subcommand=
    ((COMP_CWORD > 1)) && subcommand=${COMP_WORDS[1]}
    # nc style (`sockcat -lvp 80`, `sockcat -v host 80`): -l or --listen anywhere means listen.
    if [[ $subcommand == -* && $subcommand != @(-h|--help|-V|--version) ]]; then
        local word
        subcommand=connect
        for word in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
            [[ $word == --listen || $word =~ ^-[a-zA-Z46]*l ]] && subcommand=listen
        done
    fi

    if [[ -z $subcommand ]]; then
        COMPREPLY=($(IFS=' ' compgen -W 'listen connect help --help -h --version -V' -- "$cur"))
        return 0
    fi

    local options
    case $subcommand in
        listen) options="$_sockcat_common_options $_sockcat_listen_options" ;;
        connect) options="$_sockcat_common_options $_sockcat_connect_options" ;;
        help)
            ((COMP_CWORD == 2)) && COMPREPLY=($(IFS=' ' compgen -W 'listen connect' -- "$cur"))
            return 0
            ;;
        *) return 0 ;;
    esac

    # The value of an option that takes one.
    case $subcommand:$prev in
        listen:--send-file)
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
        listen:-b | listen:--bind | connect:-s | connect:--source)
            COMPREPLY=($(compgen -P "$prefix" -A hostname -- "$cur"))
            return 0
            ;;
        *:-e | *:--exec)
            COMPREPLY=($(compgen -P "$prefix" -c -- "$cur"))
            return 0
            ;;
        listen:--allowfile | listen:--denyfile | *:-o | *:--output | *:-x | *:--hex-dump)
            COMPREPLY=($(compgen -P "$prefix" -f -- "$cur"))
            return 0
            ;;
        listen:-p | listen:--port | listen:-m | listen:--max-conns | *:-i | *:--idle-timeout | \
            listen:--allow | listen:--deny | connect:--source-port | connect:-w | connect:--wait | \
            *:-q | *:--quit-after | *:--max-message | *:-c | *:--sh-exec | *:-d | *:--delay)
            return 0
            ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(IFS=' ' compgen -W "$options" -- "$cur"))
        return 0
    fi

    # With -U the argument is a socket's path (or @NAME, typed).
    local word
    for word in "${COMP_WORDS[@]:2:COMP_CWORD-2}"; do
        if [[ $word == --unixsock || $word =~ ^-[A-Za-z0-9]*U[A-Za-z0-9]*$ ]]; then
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -- "$cur"))
            return 0
        fi
    done

    # Positional arguments: connect's HOST is a host name; ports and durations are typed.
    if [[ $subcommand == connect ]]; then
        local i words_before=0
        for ((i = 2; i < COMP_CWORD; i++)); do
            case ${COMP_WORDS[i]} in
                -s | --source | --source-port | -w | --wait | -q | --quit-after | --framing | --max-message | -e | --exec | -c | --sh-exec | \
                    -d | --delay | -o | --output | -x | --hex-dump)
                    [[ ${COMP_WORDS[i + 1]} == "=" ]] && ((i++))
                    ((i++))
                    ;;
                -*) ;;
                *) ((words_before++)) ;;
            esac
        done
        if ((words_before == 0)); then
            COMPREPLY=($(compgen -A hostname -- "$cur"))
            return 0
        fi
    fi
    COMPREPLY=($(IFS=' ' compgen -W "$options" -- "$cur"))
    return 0
}

complete -F _sockcat sockcat
