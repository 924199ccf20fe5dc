package ui

import (
	"strings"
	"unicode"
)

// Bindings to package app that are not yet available. Each is replaced as
// app's API lands.

func (s *sendScreen) scan(paths []string)  { s.status.SetText(strings.Join(paths, ", ")) }
func (s *sendScreen) cancel()              {}
func (s *sendScreen) lookupInbox()         {}
func (s *sendScreen) searchClinics()       {}
func (s *sendScreen) clinicChosen(string)  {}
func (s *sendScreen) sendNow()             {}
func (r *redeemScreen) openLink(string)    {}
func (r *redeemScreen) openImage(string)   {}
func (r *redeemScreen) start()             {}
func (r *redeemScreen) answer()            {}
func (r *redeemScreen) save(bool)          {}
func (r *redeemScreen) openFolder()        {}
func (r *redeemScreen) openViewer()        {}
func (s *inboxScreen) load()               {}
func (s *inboxScreen) importSelected()     {}
func (s *settingsScreen) testPACS()        {}
func (s *settingsScreen) store()           {}
func (s *settingsScreen) createIdentity()  {}
func (s *settingsScreen) exportPublicKey() {}

type jobRow struct{}

func (u *UI) normalizeCode(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToUpper(r)
		}
		return -1
	}, s)
}
