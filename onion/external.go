package onion

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
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
)

// ExternalFromEnv reads the environment conventions Tor Browser, OnionShare
// and Whonix use: TOR_SKIP_LAUNCH=1 selects external mode (otherwise it
// returns nil, nil and Sotto launches its own tor); then TOR_CONTROL_SOCKET
// or TOR_CONTROL_HOST/TOR_CONTROL_PORT, TOR_CONTROL_PASSWD,
// TOR_CONTROL_COOKIE_AUTH_FILE, and TOR_SOCKS_IPC_PATH or
// TOR_SOCKS_HOST/TOR_SOCKS_PORT. Hosts must be IP addresses.
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
	skip, err := get("TOR_SKIP_LAUNCH")
	if err != nil {
		return nil, err
	}
	if skip == "" || skip == "0" {
		return nil, nil
	}
	if skip != "1" {
		return nil, fmt.Errorf("%w: TOR_SKIP_LAUNCH must be 0 or 1", ErrBadConfig)
	}
	e := &External{}
	if e.ControlNetwork, e.ControlAddress, err = endpointFromEnv(get, "TOR_CONTROL_SOCKET", "TOR_CONTROL_HOST", "TOR_CONTROL_PORT", defaultControlPort); err != nil {
		return nil, err
	}
	if e.SocksNetwork, e.SocksAddress, err = endpointFromEnv(get, "TOR_SOCKS_IPC_PATH", "TOR_SOCKS_HOST", "TOR_SOCKS_PORT", defaultSocksPort); err != nil {
		return nil, err
	}
	if pw := getenv("TOR_CONTROL_PASSWD"); pw != "" {
		if len(pw) > maxEnvValue {
			return nil, fmt.Errorf("%w: TOR_CONTROL_PASSWD is too long", ErrBadConfig)
		}
		// Tor Browser's convention: the value may be a quoted string.
		if len(pw) >= 2 && pw[0] == '"' && pw[len(pw)-1] == '"' {
			pw = pw[1 : len(pw)-1]
		}
		e.Password = []byte(pw)
	}
	if e.CookieFile, err = get("TOR_CONTROL_COOKIE_AUTH_FILE"); err != nil {
		return nil, err
	}
	return e, nil
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
