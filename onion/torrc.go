package onion

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Limits on what a person (or a file they point at) can hand to the torrc.
const (
	maxNetworkFragment = 64 << 10 // bytes of a --network torrc fragment
	maxFragmentLines   = 2000
	maxBridgeLine      = 2048 // bytes of one bridge line
	maxBridges         = 64
	// maxUnixPath is the longest unix socket path Sotto uses (sun_path is
	// 108 bytes on Linux including the NUL; tor wants some slack).
	maxUnixPath = 100
	// obfs4proxyPath is Debian's obfs4 client. The torrc names it literally:
	// a ClientTransportPlugin line runs a program, so it never comes from input.
	obfs4proxyPath = "/usr/bin/obfs4proxy"
)

// File names inside the data directory.
const (
	torrcName           = "torrc"
	controlSocketName   = "c.sock"
	controlPortFileName = "control-port"
	cookieName          = "control_auth_cookie"
	socksSocketName     = "s.sock"
	socksPortFileName   = "socks-port" // unused by tor; GETINFO net/listeners/socks is read instead
	serviceSocketPrefix = "svc-"
	debugLogName        = "tor.log"
)

// launchPlan is everything the launched tor's torrc depends on.
type launchPlan struct {
	dataDir       string // absolute
	controlSocket string // "" = ControlPort auto + ControlPortWriteToFile
	socksSocket   string // "" = SocksPort auto on loopback
	ownerPID      int
	network       string   // validated fragment
	bridges       []string // validated lines
	debug         bool
}

func newLaunchPlan(cfg *Config, ownerPID int) (*launchPlan, error) {
	if cfg.DataDir == "" {
		return nil, fmt.Errorf("%w: no tor data directory given", ErrBadConfig)
	}
	dd, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("%w: tor data directory: %v", ErrBadConfig, err)
	}
	if err := checkTorrcValue(dd); err != nil {
		return nil, fmt.Errorf("%w: tor data directory path: %v", ErrBadConfig, err)
	}
	p := &launchPlan{dataDir: dd, ownerPID: ownerPID, debug: cfg.Debug}
	if s := filepath.Join(dd, controlSocketName); unixPathOK(s) {
		p.controlSocket = s
	}
	if s := filepath.Join(dd, socksSocketName); unixPathOK(s) {
		p.socksSocket = s
	}
	if p.network, err = checkNetworkFragment(cfg.Network); err != nil {
		return nil, err
	}
	if len(cfg.Bridges) > maxBridges {
		return nil, fmt.Errorf("%w: more than %d bridges", ErrBadConfig, maxBridges)
	}
	for i, b := range cfg.Bridges {
		line, err := checkBridgeLine(b)
		if err != nil {
			return nil, fmt.Errorf("%w: bridge %d: %v", ErrBadConfig, i+1, err)
		}
		p.bridges = append(p.bridges, line)
	}
	return p, nil
}

// unixPathOK reports whether path can be a unix socket for tor: short
// enough, and plain enough to appear unquoted where tor needs it (ADD_ONION
// targets are space-separated).
func unixPathOK(path string) bool {
	return len(path) <= maxUnixPath && plainPath(path)
}

// plainPath reports whether path needs no quoting anywhere in a torrc or a
// control command.
func plainPath(path string) bool {
	if !filepath.IsAbs(path) {
		return false
	}
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == '%' || c == ',' || c == '#' {
			return false
		}
	}
	return true
}

// quoteTorrc quotes a value for the torrc (tor's config parser understands
// C-style escapes inside double quotes).
func quoteTorrc(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// checkTorrcValue rejects what could end a torrc line or a control command.
func checkTorrcValue(s string) error {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '%' {
			return fmt.Errorf("contains a control character or %%")
		}
	}
	return nil
}

// torrc renders the configuration file of a launched tor. Every line is
// chosen here; the only outside text is the validated network fragment and
// the validated bridge lines.
func (p *launchPlan) torrc() []byte {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# Written by Sotto. Do not edit: rewritten at every start.")
	line("DataDirectory %s", quoteTorrc(p.dataDir))
	line("DataDirectoryGroupReadable 0")
	if p.controlSocket != "" {
		line("ControlSocket unix:%s", quoteTorrc(p.controlSocket))
		line("ControlSocketsGroupWritable 0")
		line("ControlPort 0")
	} else {
		line("ControlPort 127.0.0.1:auto")
		line("ControlPortWriteToFile %s", quoteTorrc(filepath.Join(p.dataDir, controlPortFileName)))
		line("ControlPortFileGroupReadable 0")
	}
	line("CookieAuthentication 1")
	line("CookieAuthFile %s", quoteTorrc(filepath.Join(p.dataDir, cookieName)))
	line("CookieAuthFileGroupReadable 0")
	// Only onion addresses, reported with tor's extended SOCKS errors,
	// circuits isolated by SOCKS credentials.
	const socksFlags = "OnionTrafficOnly ExtendedErrors IsolateSOCKSAuth"
	if p.socksSocket != "" {
		line("SocksPort unix:%s %s", quoteTorrc(p.socksSocket), socksFlags)
	} else {
		line("SocksPort 127.0.0.1:auto %s", socksFlags)
	}
	line("ClientOnly 1")
	line("AvoidDiskWrites 1")
	line("SafeLogging 1")
	line("DisableNetwork 1") // until the controller has finished configuring
	line("__OwningControllerProcess %d", p.ownerPID)
	line("ClientUseIPv6 0")
	line("FetchUselessDescriptors 0")
	if logFile := filepath.Join(p.dataDir, debugLogName); p.debug && plainPath(logFile) {
		// The Log value is split on spaces and not unquoted: the path
		// must be plain.
		line("Log notice file %s", logFile)
	} else {
		// Tor logs to stdout when no Log line is given; Sotto discards
		// its stdout (it would wreck the terminal UI) and sends errors to
		// a file only with Debug.
		line("Log err stdout")
	}
	if len(p.bridges) > 0 {
		line("UseBridges 1")
		line("ClientTransportPlugin obfs4 exec %s", obfs4proxyPath)
		for _, br := range p.bridges {
			line("Bridge %s", br)
		}
	}
	if p.network != "" {
		line("# Private network (--network)")
		b.WriteString(p.network)
		if !strings.HasSuffix(p.network, "\n") {
			b.WriteByte('\n')
		}
	}
	return []byte(b.String())
}

// networkKeys are the torrc options a --network fragment may set: enough to
// join a private network (testing mode, its authorities), nothing that
// could publish a key to disk, open a port, run a program or log.
var networkKeys = map[string]bool{
	"testingtornetwork":                true,
	"dirauthority":                     true,
	"alternatedirauthority":            true,
	"alternatebridgeauthority":         true,
	"pathsneededtobuildcircuits":       true,
	"clientuseipv4":                    true,
	"clientuseipv6":                    true,
	"assumereachable":                  true,
	"schedulers":                       true,
	"usemicrodescriptors":              true,
	"reachableaddresses":               true,
	"clientrejectinternaladdresses":    true,
	"extendallowprivateaddresses":      true,
	"clientdnsrejectinternaladdresses": true,
	"enforcedistinctsubnets":           true,
	"usebridges":                       true,
	"bridge":                           true,
}

// checkNetworkFragment validates a private network's torrc fragment: bounded,
// plain text, only options from networkKeys or tor's Testing* options (which
// tor accepts only together with TestingTorNetwork).
func checkNetworkFragment(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if len(s) > maxNetworkFragment {
		return "", fmt.Errorf("%w: network file larger than %d bytes", ErrBadConfig, maxNetworkFragment)
	}
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	if len(lines) > maxFragmentLines {
		return "", fmt.Errorf("%w: network file has more than %d lines", ErrBadConfig, maxFragmentLines)
	}
	var out strings.Builder
	for i, l := range lines {
		for j := 0; j < len(l); j++ {
			if c := l[j]; (c < 0x20 && c != '\t') || c == 0x7f {
				return "", fmt.Errorf("%w: network file line %d: control character", ErrBadConfig, i+1)
			}
		}
		t := strings.TrimSpace(l)
		if t == "" || t[0] == '#' {
			continue
		}
		if strings.HasSuffix(t, "\\") {
			return "", fmt.Errorf("%w: network file line %d: continued lines are not supported", ErrBadConfig, i+1)
		}
		key := strings.ToLower(strings.Fields(t)[0])
		if !networkKeys[key] && !strings.HasPrefix(key, "testing") && !strings.HasPrefix(key, "v3auth") {
			return "", fmt.Errorf("%w: network file line %d: option %q is not allowed in a network file (only options that join a private network)", ErrBadConfig, i+1, truncate(strings.Fields(t)[0], 40))
		}
		out.WriteString(t)
		out.WriteByte('\n')
	}
	return out.String(), nil
}

// checkBridgeLine validates a bridge line ("obfs4 IP:PORT FINGERPRINT
// cert=... iat-mode=0" or "IP:PORT [FINGERPRINT]"), optionally starting with
// "Bridge ". Only obfs4 and plain bridges: the transport runs
// obfs4proxyPath and nothing else.
func checkBridgeLine(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxBridgeLine {
		return "", fmt.Errorf("longer than %d bytes", maxBridgeLine)
	}
	if err := checkTorrcValue(s); err != nil {
		return "", err
	}
	f := strings.Fields(s)
	if len(f) > 0 && strings.EqualFold(f[0], "bridge") {
		f = f[1:]
	}
	if len(f) == 0 {
		return "", fmt.Errorf("empty bridge line")
	}
	addr := f[0]
	if strings.EqualFold(f[0], "obfs4") {
		if len(f) < 3 {
			return "", fmt.Errorf("an obfs4 bridge line needs an address, a fingerprint and cert=")
		}
		addr = f[1]
		f[0] = "obfs4"
	} else if !strings.Contains(f[0], ":") {
		return "", fmt.Errorf("transport %q is not supported (only obfs4)", truncate(f[0], 20))
	}
	if err := checkIPPort(addr); err != nil {
		return "", err
	}
	return strings.Join(f, " "), nil
}

// checkIPPort accepts an IP literal with a port: a bridge is never a name
// to resolve.
func checkIPPort(s string) error {
	host, port, ok := strings.Cut(s, ":")
	if strings.HasPrefix(s, "[") {
		i := strings.Index(s, "]:")
		if i < 0 {
			return fmt.Errorf("bridge address must be IP:PORT")
		}
		host, port, ok = s[1:i], s[i+2:], true
	}
	if !ok || !isIPLiteral(host) {
		return fmt.Errorf("bridge address must be IP:PORT (no host names)")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("bridge port must be 1-65535")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
