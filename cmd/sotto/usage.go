package main

// Usage texts, one per command. Each ends with examples and hints; the
// flags shared by every command are listed once, in globalFlagsUsage.

const usage = `Usage: sotto [global flags] <command> [arguments]

Sotto is a terminal messenger that talks only over Tor v3 onion services.

Commands:
  init                          create a profile (asks for a new passphrase)
  run                           open the chat screen (also plain 'sotto')
  id new NAME [--open]          create an identity (its own onion service)
  id list                       list identities
  id card NAME                  print an identity's contact code and QR code
  id burn NAME                  destroy an identity, its contacts and conversations
  contact add IDENTITY PETNAME CODE
                                add a contact from their contact code
  contact list [IDENTITY]       list contacts
  contact verify IDENTITY PETNAME
                                show the safety code; record that you compared it
  contact remove IDENTITY PETNAME
  contact requests IDENTITY     contact requests to an open identity
  contact accept IDENTITY REQUEST PETNAME
  contact reject IDENTITY REQUEST
  send IDENTITY CONTACT         send one message, typed or piped in, and wait until it
                                has arrived ('sotto send --help')
  file send IDENTITY CONTACT PATH
                                send a file, its metadata removed ('sotto file --help')
  file list|accept|reject|cancel|save|limits
                                the files of a conversation, and the size limits
  headless                      JSON lines on stdin/stdout, for scripts (docs/headless.md)
  mailbox init|serve|code|status|pair|unpair
                                run a mailbox that keeps messages while you are offline
  net up DIR [--listen ADDR]    run a private Tor network in DIR
  net down DIR                  stop it
  check                         open the profile and check it is intact
  panic                         wipe the profile at once, without a passphrase
  threatmodel                   print the threat model this binary was built with
  version                       print the version

` + globalFlagsUsage + `
Examples:
  sotto init
  sotto id new work
  sotto id card work
  sotto contact add work alice sotto1...
  sotto --profile /media/usb/sotto run

hint: 'sotto <command> --help' shows a command's flags and examples.
hint: exit codes are listed in docs/cli.md.
`

const globalFlagsUsage = `Global flags (before or after the command):
  --profile DIR           the profile directory (default: $XDG_DATA_HOME/sotto)
  --passphrase-file FILE  read the passphrase from FILE instead of the terminal
                          (never from the command line or the environment)
  --network FILE          join the private Tor network FILE describes
                          (DIR/network.torrc written by 'sotto net up DIR')
  --tor-skip-launch       use a running tor instead of starting one (TOR_SKIP_LAUNCH=1)
  --tor-control-host H    its control port host (TOR_CONTROL_HOST, default 127.0.0.1)
  --tor-control-port P    its control port (TOR_CONTROL_PORT, default 9051)
  --tor-control-socket S  or its control socket (TOR_CONTROL_IPC_PATH)
  --tor-socks-host H      its SOCKS host (TOR_SOCKS_HOST, default 127.0.0.1)
  --tor-socks-port P      its SOCKS port (TOR_SOCKS_PORT, default 9050)
  --service-listen A      with a running tor: where onion services listen, IP:PORT,
                          :PORT or IP; ports PORT..PORT+63, one per identity, for
                          a firewall to open (SOTTO_SERVICE_LISTEN)
  --version               print the version and exit
  --debug                 more detail in errors; headless: a connection log on stderr
                          (names and timings; never keys or messages)
`

const sendUsage = `Usage: sotto send IDENTITY CONTACT [--wait DURATION]

Sends one message from IDENTITY to CONTACT and waits until it has arrived:
delivered to CONTACT, or left at a mailbox (CONTACT's or yours) until
CONTACT collects it. Sotto goes online for it (it starts tor, or uses the
one --tor-skip-launch names) and closes again.

The message is read from standard input, never from the command line: a
command line is visible to every program on the computer (ps) and stays in
your shell's history. On a terminal, type it after the passphrase and end
it with Ctrl-D on a line of its own; the last newline is not sent. A
message holds at most 16,384 bytes of UTF-8 (sotto.MaxText).

A message that has not arrived when the wait is over is not lost: it is in
the outbox and goes out the next time Sotto runs ('sotto' or 'sotto
headless') while CONTACT is online. The exit code is then 12. Ctrl-C during
the wait leaves it there too.

Flags:
  --wait DURATION   how long to wait for it to arrive (default 2m, at most
                    24h); 0 stores it in the outbox and exits without going
                    online

Examples:
  sotto send work alice
  sotto send --wait 10m work alice < note.txt
  printf '%s' "$REPORT" | sotto --passphrase-file pw send work alice

hint: 'sotto contact list' shows the contacts' names.
hint: a longer text, or a document, goes as a file: 'sotto file send --help'.
`

const initUsage = `Usage: sotto init [--weak-passphrase]

Creates a profile: an encrypted vault in the profile directory, unlocked by a
passphrase you choose. Sotto asks for it twice on the terminal, or reads it
from --passphrase-file.

Sotto estimates how hard the passphrase is to guess (zxcvbn: common words,
names, dates, keyboard patterns and l33t spellings count for little). Below
about 10^12 guesses it says how long an attacker with a copy of the profile
would need and asks you to type 'weak' before going on; a weak passphrase
from --passphrase-file is refused unless --weak-passphrase is given.

Examples:
  sotto init
  sotto --profile ~/sotto-work init
  sotto --passphrase-file pw init --weak-passphrase   # a throw-away test profile

hint: a long passphrase of several random words is both strong and typeable.
hint: there is no recovery: without the passphrase the profile cannot be opened.
`

const idUsage = `Usage: sotto id new NAME [--open]
       sotto id list
       sotto id card NAME [--no-qr]
       sotto id burn NAME [--yes]

Each identity is its own onion service with its own contacts. Nobody can link
two identities of one profile from the network.

  new NAME     create a persistent identity
    --open       open mode (a tip line): strangers who have its code can send a
                 contact request, which waits for 'sotto contact accept'
    --ephemeral  see the hint below
  list         list identities
  card NAME    print the contact code (one line) and a QR code of it
    --no-qr      only the code line
  burn NAME    destroy the identity, its keys, contacts and conversations
    --yes        do not ask for confirmation

Examples:
  sotto id new work
  sotto id new tips --open
  sotto id card work --no-qr > work.code
  sotto id burn work --yes

hint: an ephemeral identity lives in memory only, so it dies with the process
      that made it: create one in 'sotto run' or in 'sotto headless' with
      {"cmd":"new_identity","identity":"NAME","ephemeral":true}.
hint: give the code to a contact out of band: read it aloud, paste it, or show the QR code.
`

const contactUsage = `Usage: sotto contact add IDENTITY PETNAME CODE|-
       sotto contact list [IDENTITY]
       sotto contact verify IDENTITY PETNAME [--yes]
       sotto contact remove IDENTITY PETNAME
       sotto contact requests IDENTITY
       sotto contact accept IDENTITY REQUEST PETNAME
       sotto contact reject IDENTITY REQUEST

  add       add the contact whose code is CODE to IDENTITY, under the name PETNAME;
            once both sides have added each other they connect by themselves.
            White space inside the code does not matter (a code wrapped over
            lines, or in groups of five, may come in several arguments); with
            - the code is read from standard input, as pasted
  list      list the contacts of IDENTITY (of every identity without it)
  verify    show the safety code (the same on both screens) and ask you to type
            what the contact reads out; the contact is marked verified only when
            the two match. --yes marks it verified without asking (you compared
            the codes some other way)
  remove    remove a contact and the conversation with it
  requests  list contact requests waiting for an open-mode identity
  accept    make the request REQUEST a contact named PETNAME
  reject    refuse the request REQUEST

Examples:
  sotto contact add work alice "$(cat alice.code)"
  sotto contact add work alice -        # then paste the code, enter, ctrl+d
  sotto contact verify work alice
  sotto contact requests tips
  sotto contact accept tips 3f9a source1

hint: a code that was mistyped or cut short is refused; ask for it again.
hint: compare the safety code in person or on a call you trust: that is what
      rules out a man in the middle.
`

const runUsage = `Usage: sotto run   (or plain 'sotto')

Opens the chat screen: unlock, identities, contacts, conversations.

Examples:
  sotto
  sotto --network /tmp/net/network.torrc run

Panic wipe: press the panic key (ctrl+\ unless --panic-key says otherwise),
then type the panic word ("wipe" unless --panic-word): the profile is erased
and the screen closes. The key alone, pressed any number of times, does
nothing but show the panel; esc cancels.

Flags:
  --panic-key KEY    ctrl+\ (default), ctrl+] ctrl+^ ctrl+_ ctrl+q ctrl+r
                     ctrl+s f3..f12, or none; env SOTTO_PANIC_KEY
  --panic-word WORD  3 to 16 letters (default wipe); env SOTTO_PANIC_WORD

hint: the screen locks itself after 5 minutes without a key press.
`

const headlessUsage = `Usage: sotto headless

Runs the engine with JSON lines on stdin and stdout and nothing else on
stdout: one command per input line, one reply or event per output line.
Every command and event is documented in docs/headless.md. The passphrase
comes from --passphrase-file or the terminal (never from stdin).

Examples:
  echo '{"cmd":"identities"}' | sotto --passphrase-file pw headless
  sotto --passphrase-file pw headless < commands.jsonl > events.jsonl
  printf '%s\n' '{"cmd":"send","identity":"work","contact":"alice","text":"hi"}' \
    '{"cmd":"wait","identity":"work","contact":"alice","seconds":120}' |
    sotto --passphrase-file pw headless

hint: send {"cmd":"quit"} (or close stdin) to stop; messages already accepted
      by "send" are in the outbox and go out on the next start. To stop only
      once they have left (delivered, or queued at a mailbox), write
      {"cmd":"wait",...} after the sends.
`

const netUsage = `Usage: sotto net up DIR [--listen ADDR]
       sotto net down DIR

Runs a private Tor network (3 directory authorities and 5 relays) with its
state in DIR, and returns once onion services can use it. DIR/network.torrc is
what every client of that network loads: 'sotto --network DIR/network.torrc'.

  up DIR        start the network
    --listen ADDR  the IPv4 address relays bind to (default 127.0.0.1); a LAN
                   address lets a community run its own Tor during a shutdown
  down DIR      stop the network started in DIR

Examples:
  sotto net up /tmp/net
  sotto --network /tmp/net/network.torrc run
  sotto net down /tmp/net

hint: a small private network hides you only among its own few users and
      relays: whoever runs the relays can see who talks to whom.
`

const checkUsage = `Usage: sotto check

Reads every file of the profile's vault with the passphrase and reports the
ones that are damaged (truncated, changed on disk, or not Sotto's). It writes
nothing, does not start tor, and works beside a running sotto.

Examples:
  sotto check
  sotto --passphrase-file pw --profile /media/usb/sotto check

hint: exit code 3 means the passphrase is wrong; 1 with "damaged:" lines
      means files cannot be read: restore from a backup if you have one.
`

const panicUsage = `Usage: sotto panic [--yes]

Wipes the profile at once: keys first, then every file. It needs no
passphrase and cannot be undone. Sotto asks once on the terminal unless
--yes is given.

Examples:
  sotto panic --yes
  sotto --profile /media/usb/sotto panic --yes

hint: a running sotto also wipes its memory on SIGTERM.
`

const versionUsage = `Usage: sotto version

Prints the version of this binary (from its build information), the Go
toolchain and target it was built with, and whether it zeroes the memory
that held keys and message texts once freed (runtime/secret: on when built
with make on linux/amd64 or linux/arm64; see SECURITY.md).

Examples:
  sotto version

hint: a version of "(devel)" means a build from a source tree without a tag.
`

const threatmodelUsage = `Usage: sotto threatmodel

Prints Sotto's threat model (threatmodel/THREATS.md, embedded in this
binary): what it protects, from whom, each threat with its ID, mitigation,
residual risk, and the tests that mount the attack.

Examples:
  sotto threatmodel | less

hint: read the residual risks before you rely on Sotto.
`
