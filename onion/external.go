package onion

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/sottochat/sotto/onion/torctl"
)

// External describes a tor Sotto does not start: Tor Browser's, a system
// tor, a Whonix gateway behind onion-grater. See docs/tor-control.md for the
// exact commands Sotto sends.
type External struct {
	// ControlNetwork is "unix" or "tcp"; ControlAddress a socket path or an
	// IP:port (never a host name: Sotto resolves nothing).
	ControlNetwork, ControlAddress string
	// Password for HASHEDPASSWORD authentication (TOR_CONTROL_PASSWD), or nil.
	Password []byte
	// CookieFile overrides the cookie path tor announces
	// (TOR_CONTROL_COOKIE_AUTH_FILE), for a tor whose file system differs.
	CookieFile string
	// SocksNetwork is "unix" or "tcp", SocksAddress a path or an IP:port.
	SocksNetwork, SocksAddress string
	// ServiceHost is the IP address the onion services' listeners bind to,
	// where the external tor can reach them. Default: the local address of
	// the TCP control connection (what onion-grater calls
	// {client-address}), or 127.0.0.1 for a unix control socket.
	ServiceHost string
	// ServicePortBase, if non-zero, makes the services listen on the first
	// free port of ServicePortBase..+63 (a Whonix workstation's firewall
	// must open them) instead of a random one.
	ServicePortBase int
}

// servicePortRange is how many ports from External.ServicePortBase are tried.
const servicePortRange = 64

// Conventional defaults of a system tor.
const (
	defaultControlPort = 9051
	defaultSocksPort   = 9050
	maxEnvValue        = 4096
	maxPassword        = 1024 // bytes of a control-port password
)

// SkipLaunch reports whether TOR_SKIP_LAUNCH asks for a running tor
// instead of a launched one: "1" or "true" (in any case) is yes; unset,
// "", "0" or "false" is no; anything else is an error saying so. Every
// place that reads TOR_SKIP_LAUNCH uses this.
func SkipLaunch(getenv func(string) string) (bool, error) {
	switch v := strings.TrimSpace(getenv("TOR_SKIP_LAUNCH")); {
	case v == "1" || strings.EqualFold(v, "true"):
		return true, nil
	case v == "" || v == "0" || strings.EqualFold(v, "false"):
		return false, nil
	}
	return false, fmt.Errorf("%w: TOR_SKIP_LAUNCH must be 1 or true (or 0, false, unset to launch tor)", ErrBadConfig)
}

// ExternalFromEnv reads the environment conventions of Tor Browser (its
// names and their meaning, exactly), OnionShare and Whonix: TOR_SKIP_LAUNCH
// selects external mode (see SkipLaunch; otherwise it returns nil, nil and
// Sotto launches its own tor); then the control port from
// TOR_CONTROL_IPC_PATH (TOR_CONTROL_SOCKET is an older name for it) or
// TOR_CONTROL_HOST and TOR_CONTROL_PORT; TOR_CONTROL_PASSWD (hex, or the
// password in double quotes with tor's escapes, as Tor Browser passes it
// to AUTHENTICATE); TOR_CONTROL_COOKIE_AUTH_FILE; the SOCKS port from
// TOR_SOCKS_IPC_PATH or TOR_SOCKS_HOST and TOR_SOCKS_PORT; and Sotto's own
// SOTTO_SERVICE_LISTEN (see ParseServiceListen). Hosts must be IP
// addresses: Sotto resolves nothing.
func ExternalFromEnv(getenv func(string) string) (*External, error) {
	if getenv == nil {
		return nil, fmt.Errorf("%w: nil getenv", ErrBadConfig)
	}
	get := func(k string) (string, error) {
		v := strings.TrimSpace(getenv(k))
		if len(v) > maxEnvValue {
			return "", fmt.Errorf("%w: %s is too long", ErrBadConfig, k)
		}
		if err := checkTorrcValue(v); err != nil && k != "TOR_CONTROL_PASSWD" {
			return "", fmt.Errorf("%w: %s %v", ErrBadConfig, k, err)
		}
		return v, nil
	}
	skip, err := SkipLaunch(getenv)
	if err != nil || !skip {
		return nil, err
	}
	e := &External{}
	ipc, err := get("TOR_CONTROL_IPC_PATH")
	if err != nil {
		return nil, err
	}
	old, err := get("TOR_CONTROL_SOCKET")
	if err != nil {
		return nil, err
	}
	// Tor Browser's name wins; the older one is an alias.
	pathKey := "TOR_CONTROL_IPC_PATH"
	if ipc == "" {
		pathKey = "TOR_CONTROL_SOCKET"
	} else if old != "" && strings.TrimPrefix(ipc, "unix:") != strings.TrimPrefix(old, "unix:") {
		return nil, fmt.Errorf("%w: TOR_CONTROL_IPC_PATH and TOR_CONTROL_SOCKET name different sockets (set one)", ErrBadConfig)
	}
	if e.ControlNetwork, e.ControlAddress, err = endpointFromEnv(get, pathKey, "TOR_CONTROL_HOST", "TOR_CONTROL_PORT", defaultControlPort); err != nil {
		return nil, err
	}
	if e.SocksNetwork, e.SocksAddress, err = endpointFromEnv(get, "TOR_SOCKS_IPC_PATH", "TOR_SOCKS_HOST", "TOR_SOCKS_PORT", defaultSocksPort); err != nil {
		return nil, err
	}
	if pw := getenv("TOR_CONTROL_PASSWD"); pw != "" {
		if e.Password, err = ParseControlPassword(pw); err != nil {
			return nil, err
		}
	}
	if e.CookieFile, err = get("TOR_CONTROL_COOKIE_AUTH_FILE"); err != nil {
		return nil, err
	}
	if sl, err := get("SOTTO_SERVICE_LISTEN"); err != nil {
		return nil, err
	} else if sl != "" {
		if e.ServiceHost, e.ServicePortBase, err = ParseServiceListen(sl); err != nil {
			return nil, fmt.Errorf("%w (SOTTO_SERVICE_LISTEN)", err)
		}
	}
	return e, nil
}

// ParseControlPassword reads a control-port password the way Tor Browser
// hands TOR_CONTROL_PASSWD to tor's AUTHENTICATE: a value in double quotes
// is a quoted string with tor's escapes (\" \\ \n \t \r \' \xHH, octal);
// any other value is the password in hex. It returns the password's bytes.
func ParseControlPassword(v string) ([]byte, error) {
	if len(v) > maxEnvValue {
		return nil, fmt.Errorf("%w: TOR_CONTROL_PASSWD is too long", ErrBadConfig)
	}
	if strings.HasPrefix(v, `"`) {
		pw, err := torctl.Unquote(v)
		if err != nil {
			return nil, fmt.Errorf("%w: TOR_CONTROL_PASSWD starts with a double quote but is not a quoted string (end it with \", escape \" and \\ inside)", ErrBadConfig)
		}
		if pw == "" || len(pw) > maxPassword {
			return nil, fmt.Errorf("%w: TOR_CONTROL_PASSWD is empty or longer than %d bytes", ErrBadConfig, maxPassword)
		}
		return []byte(pw), nil
	}
	pw, err := hex.DecodeString(v)
	if err == nil && len(pw) > maxPassword {
		return nil, fmt.Errorf("%w: TOR_CONTROL_PASSWD is longer than %d bytes", ErrBadConfig, maxPassword)
	}
	if err != nil || len(pw) == 0 {
		return nil, fmt.Errorf("%w: TOR_CONTROL_PASSWD must be hex, or the password in double quotes (as Tor Browser reads it)", ErrBadConfig)
	}
	return pw, nil
}

// ParseServiceListen reads where the onion services' listeners bind in
// external mode (--service-listen, SOTTO_SERVICE_LISTEN): "IP:PORT" (that
// address, ports PORT to PORT+63, one per identity), ":PORT" (the usual
// address, those ports) or "IP" (that address, random ports).
func ParseServiceListen(v string) (host string, portBase int, err error) {
	bad := func(why string) (string, int, error) {
		return "", 0, fmt.Errorf("%w: service listen address %s: use IP:PORT, :PORT or IP (ports PORT to PORT+%d are used, one per identity)", ErrBadConfig, why, servicePortRange-1)
	}
	if v == "" || len(v) > 64 {
		return bad("is empty or too long")
	}
	h, p, splitErr := net.SplitHostPort(v)
	if splitErr != nil {
		// No port: an address alone.
		if !isIPLiteral(v) || strings.Contains(v, "[") {
			return bad("is not an IP address")
		}
		return strings.Trim(v, "[]"), 0, nil
	}
	if h != "" && !isIPLiteral(h) {
		return bad("is not an IP address (Sotto never resolves host names)")
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535-(servicePortRange-1) {
		return bad(fmt.Sprintf("port must be 1-%d", 65535-(servicePortRange-1)))
	}
	return h, n, nil
}

func endpointFromEnv(get func(string) (string, error), pathKey, hostKey, portKey string, defPort int) (network, addr string, err error) {
	path, err := get(pathKey)
	if err != nil {
		return "", "", err
	}
	if path != "" {
		path = strings.TrimPrefix(path, "unix:")
		if !strings.HasPrefix(path, "/") {
			return "", "", fmt.Errorf("%w: %s must be an absolute path", ErrBadConfig, pathKey)
		}
		return "unix", path, nil
	}
	host, err := get(hostKey)
	if err != nil {
		return "", "", err
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if !isIPLiteral(host) {
		return "", "", fmt.Errorf("%w: %s must be an IP address (Sotto never resolves host names)", ErrBadConfig, hostKey)
	}
	port := defPort
	if p, err := get(portKey); err != nil {
		return "", "", err
	} else if p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", "", fmt.Errorf("%w: %s must be a port number 1-65535", ErrBadConfig, portKey)
		}
		port = n
	}
	return "tcp", net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port)), nil
}

func isIPLiteral(s string) bool {
	_, err := netip.ParseAddr(strings.Trim(s, "[]"))
	return err == nil && !strings.Contains(s, "%")
}

func (e *External) validate() error {
	for _, ep := range [][2]string{{e.ControlNetwork, e.ControlAddress}, {e.SocksNetwork, e.SocksAddress}} {
		switch ep[0] {
		case "unix":
			if !strings.HasPrefix(ep[1], "/") {
				return fmt.Errorf("%w: unix socket path must be absolute", ErrBadConfig)
			}
		case "tcp":
			host, _, err := net.SplitHostPort(ep[1])
			if err != nil || !isIPLiteral(host) {
				return fmt.Errorf("%w: tor address must be IP:PORT (no host names)", ErrBadConfig)
			}
		default:
			return fmt.Errorf("%w: tor endpoint network must be unix or tcp", ErrBadConfig)
		}
	}
	if e.ServicePortBase < 0 || e.ServicePortBase > 65535 {
		return fmt.Errorf("%w: service port base must be 0-65535", ErrBadConfig)
	}
	if e.ServiceHost != "" && !isIPLiteral(e.ServiceHost) {
		return fmt.Errorf("%w: service host must be an IP address", ErrBadConfig)
	}
	return nil
}
