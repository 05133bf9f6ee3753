package testnet

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	// startTimeout bounds the wait for a usable network when ctx has no
	// deadline: on a loaded 2-core machine it takes ~25 s.
	startTimeout = 4 * time.Minute
	// pollEvery is how often the consensus is fetched while waiting.
	pollEvery = 500 * time.Millisecond
	// maxConsensus bounds a consensus document read from an authority.
	maxConsensus = 4 << 20
	// maxRouters bounds the router entries parseConsensus accepts.
	maxRouters = 10000
)

// neededFlags are the flags every node must have before Start returns: an
// onion service needs Guard (entry), HSDir (descriptors), Stable (intro
// points), Fast, and Running/Valid to be used at all.
var neededFlags = []string{"Running", "Valid", "Fast", "Stable", "Guard", "HSDir"}

// consensus is what Start needs to know of a consensus document.
type consensus struct {
	ValidAfter string // "YYYY-MM-DD HH:MM:SS", sorts as time
	Routers    int    // router entries
	Usable     int    // router entries with every flag in neededFlags
}

// parseConsensus reads a network-status consensus (dir-spec §3.4.1). It
// reads only the fields it needs and rejects a document that is not one.
func parseConsensus(b []byte) (consensus, error) {
	var c consensus
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	first := true
	inRouter := false
	for sc.Scan() {
		line := sc.Text()
		if first {
			if line != "network-status-version 3" && !strings.HasPrefix(line, "network-status-version 3 ") {
				return consensus{}, errors.New("not a v3 network-status document")
			}
			first = false
			continue
		}
		key, rest, _ := strings.Cut(line, " ")
		switch key {
		case "vote-status":
			if rest != "consensus" {
				return consensus{}, fmt.Errorf("vote-status %q, want consensus", rest)
			}
		case "valid-after":
			if _, err := time.Parse(time.DateTime, rest); err != nil {
				return consensus{}, fmt.Errorf("bad valid-after: %w", err)
			}
			c.ValidAfter = rest
		case "r":
			c.Routers++
			if c.Routers > maxRouters {
				return consensus{}, fmt.Errorf("more than %d routers", maxRouters)
			}
			inRouter = true
		case "s":
			if !inRouter {
				return consensus{}, errors.New("flags line before a router line")
			}
			inRouter = false
			have := map[string]bool{}
			for _, f := range strings.Fields(rest) {
				have[f] = true
			}
			ok := true
			for _, f := range neededFlags {
				ok = ok && have[f]
			}
			if ok {
				c.Usable++
			}
		case "directory-footer":
			if c.ValidAfter == "" {
				return consensus{}, errors.New("no valid-after line")
			}
			return c, nil
		}
	}
	if err := sc.Err(); err != nil {
		return consensus{}, err
	}
	return consensus{}, errors.New("truncated consensus: no directory-footer")
}

// fetchConsensus asks one authority's DirPort for the current consensus.
// It dials the authority directly: this is a private network's own
// infrastructure, not Sotto traffic.
func fetchConsensus(ctx context.Context, client *http.Client, nd *node) (consensus, error) {
	url := "http://" + net.JoinHostPort(nd.addr, strconv.Itoa(nd.dirPort)) + "/tor/status-vote/current/consensus"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return consensus{}, err
	}
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := client.Do(req)
	if err != nil {
		return consensus{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return consensus{}, fmt.Errorf("authority %s: HTTP %d", nd.name, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxConsensus+1))
	if err != nil {
		return consensus{}, err
	}
	if len(b) > maxConsensus {
		return consensus{}, fmt.Errorf("authority %s: consensus larger than %d bytes", nd.name, maxConsensus)
	}
	return parseConsensus(b)
}

// waitUsable waits until a consensus lists want nodes with every needed
// flag, then for the next consensus (a client that starts on the first one
// may wait ~10 s more for microdescriptors), and for the bridge if any.
func (n *Network) waitUsable(ctx context.Context, want int) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startTimeout)
		defer cancel()
	}
	// Tor compresses a consensus when a client offers any encoding.
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 3 * time.Second}

	var auths []*node
	var br *node
	for _, nd := range n.nodes {
		switch nd.role {
		case authority:
			auths = append(auths, nd)
		case bridge:
			br = nd
		}
	}
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var last consensus
	var lastErr error
	for i := 0; ; i++ {
		for _, nd := range n.nodes {
			if nd.proc.exited() {
				tail := tailLog(nd)
				if strings.Contains(tail, "Could not bind") || strings.Contains(tail, "Address already in use") {
					return fmt.Errorf("%w: tor %s exited during start-up (%v): %s", errPortTaken, nd.name, nd.proc.err, tail)
				}
				return fmt.Errorf("testnet: tor %s exited during start-up (%v): %s", nd.name, nd.proc.err, tail)
			}
		}
		c, err := fetchConsensus(ctx, client, auths[i%len(auths)])
		if err != nil {
			lastErr = err
		} else {
			last, lastErr = c, nil
			if c.Usable >= want {
				if n.firstUsable.IsZero() {
					n.firstUsable = time.Now()
					n.firstValidAft = c.ValidAfter
					n.progress("first usable consensus (valid-after %s) after %v; waiting one more round",
						c.ValidAfter, n.firstUsable.Sub(n.started).Round(time.Millisecond))
				} else if c.ValidAfter > n.firstValidAft && n.bridgeReady(br) {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("testnet: network not usable in time: last consensus had %d of %d nodes with the flags onion services need (last error: %v)",
					last.Usable, want, lastErr)
			}
			return fmt.Errorf("testnet: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// bridgeReady reports whether the bridge (if any) has written its bridge
// line and bootstrapped, and records the line.
func (n *Network) bridgeReady(br *node) bool {
	if br == nil {
		return true
	}
	if n.bridgeLine == "" {
		b, err := readFileLimit(filepath.Join(br.dir, "pt_state", "obfs4_bridgeline.txt"), 1<<16)
		if err != nil {
			return false
		}
		fp, err := readFileLimit(filepath.Join(br.dir, "fingerprint"), 1<<10)
		if err != nil {
			return false
		}
		if br.fp, err = relayFingerprint(fp); err != nil {
			return false
		}
		line, err := bridgeLine(b, net.JoinHostPort(br.addr, strconv.Itoa(br.ptPort)), br.fp)
		if err != nil {
			return false
		}
		n.bridgeLine = line
	}
	log, err := readFileLimit(filepath.Join(br.dir, nodeLog), 8<<20)
	return err == nil && bytes.Contains(log, []byte("Bootstrapped 100%"))
}

// bridgeLine turns obfs4proxy's obfs4_bridgeline.txt, whose address and
// fingerprint are placeholders, into "obfs4 ADDR:PORT FP cert=... iat-mode=N".
func bridgeLine(file []byte, addrPort, fp string) (string, error) {
	for _, l := range strings.Split(string(file), "\n") {
		l = strings.TrimSpace(l)
		rest, ok := strings.CutPrefix(l, "Bridge obfs4 ")
		if !ok {
			continue
		}
		// "<IP ADDRESS>:<PORT> <FINGERPRINT> cert=... iat-mode=0"
		rest, ok = strings.CutPrefix(rest, "<IP ADDRESS>:<PORT> ")
		f := strings.Fields(rest)
		if !ok || len(f) != 3 || f[0] != "<FINGERPRINT>" {
			return "", errors.New("obfs4 bridge line has an unexpected shape")
		}
		f = append([]string{"ADDR"}, f...)
		cert, ok := strings.CutPrefix(f[2], "cert=")
		if !ok || len(cert) < 40 || len(cert) > 200 {
			return "", errors.New("obfs4 bridge line has no valid cert")
		}
		for _, c := range cert {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
				return "", errors.New("obfs4 bridge line has no valid cert")
			}
		}
		if f[3] != "iat-mode=0" && f[3] != "iat-mode=1" && f[3] != "iat-mode=2" {
			return "", errors.New("obfs4 bridge line has no valid iat-mode")
		}
		return fmt.Sprintf("obfs4 %s %s cert=%s %s", addrPort, fp, cert, f[3]), nil
	}
	return "", errors.New("no obfs4 bridge line")
}
