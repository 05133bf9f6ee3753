package sotto

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sottochat/sotto/onion"
)

// roomForContact refuses a contact that a restricted identity has no room
// for: its onion service carries one client-auth key per contact in one
// control command, which a filter such as Whonix's onion-grater drops past
// onion.MaxCommandLine bytes (issue 17). The caller holds e.mu.
func (id *identity) roomForContact() error {
	if id.open || len(id.contacts) < onion.MaxClientAuth {
		return nil
	}
	return fmt.Errorf("%w: identity %s has %d contacts, the most one identity can have (tor's command for its onion service would be longer than Whonix's control-port filter passes); make another identity for more contacts", ErrTooManyContacts, id.name, len(id.contacts))
}

// clientAuthShared reports that tor held a client-auth key for the contact
// whose onion is addr that this Sotto had not registered (onion's
// ClientAuthShared event).
func (e *Engine) clientAuthShared(addr string) {
	e.mu.Lock()
	var who []string
	for _, id := range e.ids {
		for _, c := range id.contacts {
			if c.onion == addr {
				who = append(who, fmt.Sprintf("%q of identity %q", c.rec.Petname, id.name))
			}
		}
	}
	e.mu.Unlock()
	sort.Strings(who)
	name := onion.Abbrev(addr)
	if len(who) > 0 {
		name = strings.Join(who, ", ")
	}
	e.ev.emit(ErrorEvent{Err: clientAuthSharedError(name)})
}

func clientAuthSharedError(contact string) error {
	return fmt.Errorf("%w: tor already held a client-authorization key for contact %s that this Sotto did not register: another program or Whonix-Workstation using the same tor has this contact too (or an earlier Sotto session ended without removing its key). Tor keeps one key per contact for all its users, so each replaces the other's, and one removing it cuts the other off until it connects again; Sotto leaves that key in tor when it closes. Give each Workstation its own Whonix-Gateway (in Qubes, its own sys-whonix) to keep them apart", ErrClientAuthShared, contact)
}
