//go:build !sottocore

package main

import "errors"

// Until the messenger core and onion/testnet are merged, the commands that
// need them say so plainly instead of pretending to work.
var errNotBuilt = errors.New("sotto: this build has no messenger core yet")

func (a *app) doInit() error                              { return errNotBuilt }
func (a *app) doRun() error                               { return errNotBuilt }
func (a *app) doHeadless() error                          { return errNotBuilt }
func (a *app) doCheck() error                             { return errNotBuilt }
func (a *app) doPanic() error                             { return errNotBuilt }
func (a *app) idNew(name string, open bool) error         { return errNotBuilt }
func (a *app) idList() error                              { return errNotBuilt }
func (a *app) idCard(name string, qr bool) error          { return errNotBuilt }
func (a *app) idBurn(name string) error                   { return errNotBuilt }
func (a *app) contactAdd(id, pet, code string) error      { return errNotBuilt }
func (a *app) contactList(id string) error                { return errNotBuilt }
func (a *app) contactVerify(id, pet string, y bool) error { return errNotBuilt }
func (a *app) contactRemove(id, pet string) error         { return errNotBuilt }
func (a *app) contactRequests(id string) error            { return errNotBuilt }
func (a *app) contactAccept(id, req, pet string) error    { return errNotBuilt }
func (a *app) contactReject(id, req string) error         { return errNotBuilt }
func (a *app) classifyCore(err error) (classified, bool)  { return classified{}, false }
