package sotto

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"
	"time"

	"github.com/sottochat/sotto/internal/record"
	"github.com/sottochat/sotto/internal/wire"
	"github.com/sottochat/sotto/onion"
)

// request is a pending contact request to an open-mode identity.
type request struct {
	rec record.Request
}

func (r *request) info(id *identity) Request {
	return Request{
		ID: r.rec.ID, Identity: id.name, Onion: onion.AddressFromPublicKey(ed25519.PublicKey(r.rec.Peer)),
		Text: r.rec.Text, At: time.Unix(r.rec.At, 0),
	}
}

func (e *Engine) loadRequests(id *identity) error {
	keys, err := id.st.Keys(kindRequest)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, id.key+".") {
			continue
		}
		b, err := id.st.Get(kindRequest, k)
		if err != nil {
			return err
		}
		r := &request{}
		if err := record.Unmarshal(b, &r.rec); err != nil {
			return err
		}
		id.requests[r.rec.ID] = r
	}
	return nil
}

// storeRequest keeps a contact request for the owner's decision; it refuses
// one over the cap or the rate limit. A second request from the same
// stranger replaces nothing and is answered as pending.
func (e *Engine) storeRequest(id *identity, peer ed25519.PublicKey, m *wire.Message) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err := e.storeRequestLocked(id, peer, m)
	return err
}

// storeRequestLocked is storeRequest; it returns the request stored, or the
// one already pending from peer, or nil if peer is a contact already.
func (e *Engine) storeRequestLocked(id *identity, peer ed25519.PublicKey, m *wire.Message) (*request, error) {
	if id.removed || !id.open {
		return nil, errDrop
	}
	for _, r := range id.requests {
		if ed25519.PublicKey(r.rec.Peer).Equal(peer) {
			return r, nil
		}
	}
	if _, ok := id.byPub[string(peer)]; ok {
		return nil, nil
	}
	if len(id.requests) >= maxRequests {
		return nil, fmt.Errorf("sotto: too many pending requests")
	}
	now := e.cfg.now()
	recent := id.reqTimes[:0]
	for _, t := range id.reqTimes {
		if now.Sub(t) < requestRateEvery {
			recent = append(recent, t)
		}
	}
	id.reqTimes = recent
	if len(id.reqTimes) >= requestRateN {
		return nil, fmt.Errorf("sotto: contact requests over the rate limit")
	}
	id.reqTimes = append(id.reqTimes, now)
	r := &request{rec: record.Request{
		V: record.Version, ID: e.randomKey(), Peer: append([]byte(nil), peer...),
		Auth: append([]byte(nil), m.AuthKey[:]...), At: now.Unix(),
	}}
	if m.HasFirst {
		r.rec.MsgID = append([]byte(nil), m.ID[:]...)
		r.rec.Text = m.Text
	}
	b, err := record.Marshal(&r.rec)
	if err != nil {
		return nil, err
	}
	if err := id.st.Put(kindRequest, id.key+"."+r.rec.ID, b); err != nil {
		return nil, err
	}
	id.requests[r.rec.ID] = r
	e.ev.emit(RequestEvent{Request: r.info(id)})
	return r, nil
}

// Requests lists the pending contact requests of an identity, oldest first.
func (e *Engine) Requests(identity string) ([]Request, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id, err := e.identityLocked(identity)
	if err != nil {
		return nil, err
	}
	out := make([]Request, 0, len(id.requests))
	for _, r := range id.requests {
		out = append(out, r.info(id))
	}
	sortBy(out, func(r Request) string { return fmt.Sprintf("%020d%s", r.At.Unix(), r.ID) })
	return out, nil
}

// AcceptRequest makes the requester a contact under petname. Its first
// message, if any, becomes the first message of the conversation, and the
// engine connects to it.
func (e *Engine) AcceptRequest(ctx context.Context, identity, requestID, petname string) error {
	if ctx == nil {
		return ErrNilContext
	}
	if !record.ValidName(petname) {
		return fmt.Errorf("%w: a petname is 1 to %d printable characters", ErrBadName, record.MaxName)
	}
	e.mu.Lock()
	id, err := e.identityLocked(identity)
	if err != nil {
		e.mu.Unlock()
		return err
	}
	r, ok := id.requests[requestID]
	if !ok {
		e.mu.Unlock()
		return ErrUnknownRequest
	}
	var auth [32]byte
	copy(auth[:], r.rec.Auth)
	c, err := e.addContactLocked(id, petname, ed25519.PublicKey(r.rec.Peer), auth)
	if err != nil {
		e.mu.Unlock()
		return err
	}
	if len(r.rec.MsgID) == wire.IDLen {
		m := &wire.Message{Kind: wire.KindText, At: uint64(r.rec.At), Text: r.rec.Text}
		copy(m.ID[:], r.rec.MsgID)
		if err := e.receiveLocked(c, m); err != nil {
			e.mu.Unlock()
			return err
		}
	}
	// A request left at the identity's mailbox is answered there (tipline.go).
	if err := e.acceptIntakeLocked(id, requestID, c, r); err != nil {
		e.mu.Unlock()
		return err
	}
	delete(id.requests, requestID)
	err = id.st.Delete(kindRequest, id.key+"."+requestID)
	e.mu.Unlock()
	e.republish(ctx, id)
	return err
}

// RejectRequest deletes a pending contact request.
func (e *Engine) RejectRequest(ctx context.Context, identity, requestID string) error {
	if ctx == nil {
		return ErrNilContext
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	id, err := e.identityLocked(identity)
	if err != nil {
		return err
	}
	if _, ok := id.requests[requestID]; !ok {
		return ErrUnknownRequest
	}
	e.rejectIntakeLocked(id, requestID)
	delete(id.requests, requestID)
	return id.st.Delete(kindRequest, id.key+"."+requestID)
}
