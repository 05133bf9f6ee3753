package sotto

import (
	"errors"
	"fmt"
	"time"

	"github.com/sottochat/sotto/internal/wire"
	"github.com/sottochat/sotto/ratchet"
)

// hsConn is a connection during its handshake and hello (docs/PROTOCOL.md,
// section 2.5), the one piece of I/O the dialling and the answering side
// share: each side's first frame follows its preamble, every read and
// write is bounded by the handshake deadline, and the messages exchanged
// before a session starts (hello, contact request, close) travel in data
// frames sealed with the new ratchet State.
type hsConn struct {
	fc      *frameConn
	d       time.Duration // the handshake deadline
	greeted bool          // our preamble is written
	heard   bool          // the peer's preamble was read
}

func (e *Engine) newHSConn(fc *frameConn) *hsConn {
	return &hsConn{fc: fc, d: e.cfg.timing.Handshake}
}

// errPeerVersion is returned when the peer's preamble names another
// protocol version.
var errPeerVersion = errors.New("sotto: the contact speaks another protocol version")

// write sends one frame, after our preamble if it is the first.
func (h *hsConn) write(t wire.FrameType, content []byte) error {
	var b []byte
	if !h.greeted {
		b = wire.Preamble()
	}
	b, err := wire.AppendFrame(b, t, content)
	if err != nil {
		return err
	}
	h.fc.conn.SetWriteDeadline(time.Now().Add(h.d))
	if _, err := h.fc.conn.Write(b); err != nil {
		return err
	}
	h.greeted = true
	return nil
}

// read receives one frame of type want, after the peer's preamble if it is
// the first, and returns a copy of its content. A peer of another protocol
// version gets our preamble (so that it can tell its owner) and the
// connection ends.
func (h *hsConn) read(want wire.FrameType) ([]byte, error) {
	if !h.heard {
		h.fc.conn.SetReadDeadline(time.Now().Add(h.d))
		if err := wire.ReadPreamble(h.fc.conn); err != nil {
			if errors.Is(err, wire.ErrVersion) {
				if !h.greeted {
					h.fc.conn.SetWriteDeadline(time.Now().Add(h.d))
					h.fc.conn.Write(wire.Preamble())
				}
				return nil, errPeerVersion
			}
			return nil, errDrop
		}
		h.heard = true
	}
	t, content, err := h.fc.read(h.d)
	if err != nil {
		return nil, err
	}
	if t != want {
		return nil, errDrop
	}
	return append([]byte(nil), content...), nil
}

// send seals m with st (associated data adFor(from, to)) and writes it in a
// data frame.
func (h *hsConn) send(e *Engine, st *ratchet.State, m *wire.Message, from, to []byte) error {
	pt, err := m.Marshal()
	if err != nil {
		return err
	}
	ct, err := st.Encrypt(e.cfg.rand, pt, adFor(from, to))
	clear(pt)
	if err != nil {
		return fmt.Errorf("sotto: sealing a %v: %w", m.Kind, err)
	}
	return h.write(wire.FrameData, ct)
}

// receive reads a data frame, opens it with st (associated data adFor(from,
// to)) and parses the message it holds; it must be of kind want. Anything
// else ends the connection.
func (h *hsConn) receive(e *Engine, st *ratchet.State, want wire.Kind, from, to []byte) (*wire.Message, error) {
	ct, err := h.read(wire.FrameData)
	if err != nil {
		return nil, errDrop
	}
	pt, err := st.Decrypt(e.cfg.now(), ct, adFor(from, to))
	if err != nil {
		return nil, errDrop
	}
	m, err := wire.ParseMessage(pt)
	clear(pt)
	if err != nil || m.Kind != want {
		return nil, errDrop
	}
	return m, nil
}
