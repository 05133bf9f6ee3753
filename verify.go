package sotto

import (
	"errors"

	"github.com/sottochat/sotto/internal/contactcode"
)

// Safety codes and verification (docs/PROTOCOL.md §2.3).
//
// A contact is verified when its owner and the contact compared their
// safety code: 60 digits in 12 groups of five, the same on both screens,
// covering both parties' identity and client-auth keys. A verification is
// tied to the version of the code it was made with: a contact verified
// under an older version is unverified on the first open by a version that
// replaced it, with a NoticeReverify line in its conversation.

// ErrSafetyMismatch: the safety code typed in [Engine.VerifyCode] is not the
// one this side computes. The contact is not marked verified: someone may
// sit between the two people, or the code was misread.
var ErrSafetyMismatch = errors.New("sotto: the safety codes differ; do not mark this contact verified: someone may sit between you, or a digit was misread")

// SafetyDigits is the number of digits of a safety code.
const SafetyDigits = contactcode.SafetyDigits

// SafetyCode returns the safety code of the identity and the contact: 60
// digits in 12 groups of five separated by single spaces, the same on both
// sides, to compare in person or over a channel the two people trust.
func (e *Engine) SafetyCode(identity, contact string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	id, c, err := e.contactLocked(identity, contact)
	if err != nil {
		return "", err
	}
	var auth [32]byte
	copy(auth[:], c.rec.Auth)
	return contactcode.Safety(id.pub, &id.authPub, c.pub, &auth), nil
}

// SameSafetyCode reports whether two safety codes are the same, ignoring
// white space (a person may type or paste the digits in any grouping).
func SameSafetyCode(a, b string) bool { return contactcode.SafetyEqual(a, b) }

// VerifyCode marks the contact verified if code, as the contact read it out
// (white space ignored), is the safety code this side computes; otherwise
// it returns ErrSafetyMismatch and changes nothing.
func (e *Engine) VerifyCode(identity, contact, code string) error {
	want, err := e.SafetyCode(identity, contact)
	if err != nil {
		return err
	}
	if !contactcode.SafetyEqual(want, code) {
		return ErrSafetyMismatch
	}
	return e.Verify(identity, contact)
}

// Verify records that the safety code was compared (by eye, or by
// VerifyCode). Prefer VerifyCode where the user can type what the contact
// reads out.
func (e *Engine) Verify(identity, contact string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, c, err := e.contactLocked(identity, contact)
	if err != nil {
		return err
	}
	c.rec.Verified = true
	c.rec.SafetyV = contactcode.SafetyVersion
	return e.saveContactLocked(c)
}

// upgradeVerifiedLocked unverifies a contact verified under an older safety
// code and tells the user once, in the conversation. It runs when the
// contact is loaded.
func (e *Engine) upgradeVerifiedLocked(c *contact) error {
	if !c.rec.Verified || c.rec.SafetyV >= contactcode.SafetyVersion {
		return nil
	}
	c.rec.Verified = false
	c.rec.SafetyV = 0
	// The notice first: a crash before the contact is saved shows it again
	// on the next open, never loses it.
	if err := e.noticeLocked(c, NoticeReverify, 0); err != nil {
		return err
	}
	return e.saveContactLocked(c)
}
