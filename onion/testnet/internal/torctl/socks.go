package torctl

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// SOCKS5 constants (RFC 1928) and tor's extended error codes
// (tor's socks-extensions.txt, "ExtendedErrors").
const (
	socksVersion   = 0x05
	socksNoAuth    = 0x00
	socksConnect   = 0x01
	socksAtypIPv4  = 0x01
	socksAtypName  = 0x03
	socksAtypIPv6  = 0x04
	socksSucceeded = 0x00

	// SOCKS reply codes tor adds with ExtendedErrors for onion services.
	SocksHSDescNotFound  = 0xF0 // descriptor not found (not yet published, or unknown)
	SocksHSDescInvalid   = 0xF1 // descriptor could not be parsed or verified
	SocksHSIntroFailed   = 0xF2 // every introduction failed
	SocksHSRendFailed    = 0xF3 // rendezvous failed
	SocksHSMissingAuth   = 0xF4 // client authorization needed
	SocksHSWrongAuth     = 0xF5 // client authorization key is wrong
	SocksHSBadAddress    = 0xF6 // onion address is invalid
	SocksHSIntroTimedOut = 0xF7 // introduction timed out
)

// SocksError is a SOCKS5 reply other than success.
type SocksError struct{ Code byte }

func (e *SocksError) Error() string {
	names := map[byte]string{
		0x01: "general failure", 0x02: "not allowed", 0x03: "network unreachable",
		0x04: "host unreachable", 0x05: "connection refused", 0x06: "TTL expired",
		0x07: "command not supported", 0x08: "address type not supported",
		SocksHSDescNotFound: "onion descriptor not found", SocksHSDescInvalid: "onion descriptor invalid",
		SocksHSIntroFailed: "onion introduction failed", SocksHSRendFailed: "onion rendezvous failed",
		SocksHSMissingAuth: "onion client authorization missing", SocksHSWrongAuth: "onion client authorization wrong",
		SocksHSBadAddress: "onion address invalid", SocksHSIntroTimedOut: "onion introduction timed out",
	}
	if n, ok := names[e.Code]; ok {
		return fmt.Sprintf("torctl: socks reply 0x%02X (%s)", e.Code, n)
	}
	return fmt.Sprintf("torctl: socks reply 0x%02X", e.Code)
}

// DialSocks opens a stream to host:port through the SOCKS5 proxy at
// (network, proxy), sending the host name to the proxy (tor resolves it;
// nothing is resolved here).
func DialSocks(ctx context.Context, network, proxy, host string, port uint16) (net.Conn, error) {
	if ctx == nil {
		return nil, errors.New("torctl: nil context")
	}
	if len(host) == 0 || len(host) > 255 {
		return nil, errors.New("torctl: host name must be 1 to 255 bytes")
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, proxy)
	if err != nil {
		return nil, fmt.Errorf("torctl: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	conn, err := socksHandshake(c, host, port)
	if !stop() {
		// ctx ended during the handshake and broke the connection's deadline.
		c.Close()
		return nil, fmt.Errorf("torctl: %w", ctx.Err())
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return conn, nil
}

func socksHandshake(c net.Conn, host string, port uint16) (net.Conn, error) {
	if _, err := c.Write([]byte{socksVersion, 1, socksNoAuth}); err != nil {
		return nil, fmt.Errorf("torctl: %w", err)
	}
	var sel [2]byte
	if _, err := io.ReadFull(c, sel[:]); err != nil {
		return nil, fmt.Errorf("torctl: socks greeting: %w", err)
	}
	if sel[0] != socksVersion || sel[1] != socksNoAuth {
		return nil, fmt.Errorf("torctl: socks proxy refused no-auth (0x%02X 0x%02X)", sel[0], sel[1])
	}
	req := []byte{socksVersion, socksConnect, 0, socksAtypName, byte(len(host))}
	req = append(req, host...)
	req = binary.BigEndian.AppendUint16(req, port)
	if _, err := c.Write(req); err != nil {
		return nil, fmt.Errorf("torctl: %w", err)
	}
	var head [4]byte
	if _, err := io.ReadFull(c, head[:]); err != nil {
		return nil, fmt.Errorf("torctl: socks reply: %w", err)
	}
	if head[0] != socksVersion {
		return nil, fmt.Errorf("torctl: socks reply version 0x%02X", head[0])
	}
	// The bound address follows even on failure; read it to keep in step.
	var n int
	switch head[3] {
	case socksAtypIPv4:
		n = 4
	case socksAtypIPv6:
		n = 16
	case socksAtypName:
		var l [1]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return nil, fmt.Errorf("torctl: socks reply: %w", err)
		}
		n = int(l[0])
	default:
		if head[1] != socksSucceeded {
			return nil, &SocksError{Code: head[1]}
		}
		return nil, fmt.Errorf("torctl: socks reply address type 0x%02X", head[3])
	}
	if _, err := io.ReadFull(c, make([]byte, n+2)); err != nil && head[1] == socksSucceeded {
		return nil, fmt.Errorf("torctl: socks reply: %w", err)
	}
	if head[1] != socksSucceeded {
		return nil, &SocksError{Code: head[1]}
	}
	return c, nil
}
